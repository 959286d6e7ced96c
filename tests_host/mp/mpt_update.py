# The firmware-update job (station/update/run.py) and Reset on the real station (hoststation.py) with the
# host board's real image slots; the download is a stand-in of http.get's shape (these are tests of the state
# machine: the real client against a real HTTP server is test_update_e2e.py). Signing material: fwsig.py.
import asyncio
import gc
import os
import time

import fwsig
import hoststation as hs
import station_slots
from flash import rmtree
from mptest import eq
from station import clock

HEAP = "512K"  # several stations in one test, each with its bytecode in the heap (.mpy under the Unix port)
TIMEOUT = 60
# Not hoststation's directory: other checkouts' test runs on this machine use that one.
_ROOT = "/tmp/mpt_update_%d" % (time.time_ns() % 1000000007)
_SLOTS = _ROOT + "/slots"


def _image(n=9000, fill=0x41):
    body = n - 6
    return b"\xd2\xcd\x31" + bytes([0x80 | (body >> 14) & 0x7F, 0x80 | (body >> 7) & 0x7F, body & 0x7F]) + \
        bytes([fill]) * body


class Server:
    """Stand-in for http.get: serves `data` in chunks of len(buf), a pause between chunks; fails the first
    `fail` calls (HTTP 404)."""

    def __init__(self, data, fail=0, pause_ms=0):
        self.data = data
        self.fail = fail
        self.pause = pause_ms
        self.calls = 0
        self.gate = None  # an asyncio.Event the download waits on before its last chunk

    async def get(self, url, sink, ssl=None, buf=None, redirects=5, timeout_ms=15000):
        self.calls += 1
        if self.calls <= self.fail:
            return 404
        n = len(buf)
        for i in range(0, len(self.data), n):
            if self.gate is not None and i + n >= len(self.data):
                await self.gate.wait()
            r = sink(memoryview(self.data)[i:i + n])
            if r is not None:
                await r
            await asyncio.sleep_ms(self.pause)
        return 200


def _boot(fresh=True, root=True, **kw):
    # The boot stage's part (main.py): slots, the running one picked; then the station on that board.
    gc.collect()
    if fresh:
        rmtree(_ROOT)
        for d in (_ROOT, _SLOTS):
            os.mkdir(d)
        with open(_SLOTS + "/a.img", "wb") as f:
            f.write(_image(3000, 0x61))
    s = station_slots.Slots(_SLOTS)
    s.boot()
    import station_board

    orig = station_board.make
    station_board.make = lambda cfg, slots=None: orig(cfg, s)
    try:
        st = hs.make(fresh=False, dir=_ROOT, pins=_ROOT + "/pins.json", **kw)
    finally:
        station_board.make = orig
    st.resets = []
    st.board.reset = lambda: st.resets.append(1)
    if root:
        st.store.sub("certs").write("m00", fwsig.ROOT_DER)
    st.connectors.start()
    return st


_IMAGE = _image()


def _req(rid=1, cert=fwsig.SIGNER, sig=fwsig.SIG, retrieve=-7200, install=None, **kw):
    fw = {"location": "http://127.0.0.1:9/fw.img", "retrieveDateTime": clock.rfc3339(clock.now() + retrieve)}
    if cert:
        fw["signingCertificate"] = cert
    if sig:
        fw["signature"] = sig
    if install is not None:
        fw["installDateTime"] = clock.rfc3339(clock.now() + install)
    return dict({"requestId": rid, "firmware": fw}, **kw)


def statuses(st, rid=None):
    return [i.payload["status"] for i in st.outbox.items if i.action == "FirmwareStatusNotification"
            and (rid is None or i.payload["requestId"] == rid)]


_OURS = ("FirmwareUpdated", "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate")


def events(st):
    """The update's security events queued so far (taken from the queue; other kinds are left out)."""
    out = []
    while st.secq.peek():
        name, p = st.secq.peek()
        if p["type"] in _OURS:
            out.append(p["type"])
        st.secq.ack(name)
    return out


async def _ask(st, req, server=None):
    up = st.update()
    up.ack_ms = 0
    if server is not None:
        up._get = server.get
    r = await up.request(req)
    resp, after = r if isinstance(r, tuple) else (r, None)
    if after:
        a = after(True)
        if a is not None:
            await a
    return resp


async def _until(pred, ms=20000):
    for _ in range(ms // 10):
        if pred():
            return
        await asyncio.sleep_ms(10)
    raise AssertionError("timed out")


def _done(st):
    return lambda: st.updater.job is None or st.resets


async def test_happy_path_then_the_new_image_reports_installed():  # TC_L_01
    st = _boot()
    srv = Server(_IMAGE)
    eq(await _ask(st, _req(7), srv), {"status": "Accepted"})
    await _until(_done(st))
    eq(statuses(st), ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"])
    eq(st.resets, [1])
    text = b""  # the log lines up to the reset reached flash before it (app.reset flushes the buffers)
    d = st.store.sub("diag")
    for name in sorted(d.names()):  # the files as they are (snapshot() would flush first)
        text += d.read(name) or b""
    assert b"reset into slot b" in text, text[-300:]
    eq(st.board.slots.record()["active"], "b")
    eq(st.board.slots.record()["state"], "new")
    # the board resets: the boot stage starts slot b, pending verify; the CSMS accepts its BootNotification
    st2 = _boot(fresh=False)
    eq(st2.board.slots.running, "b")
    eq(st2.reg._reason, "FirmwareUpdate")
    hs.register(st2)
    await _until(lambda: st2.updater.job is None)
    eq(statuses(st2), ["Installed"])
    eq(st2.fw.trigger_payload(), {"status": "Idle"})  # L01.FR.25
    eq(events(st2), ["FirmwareUpdated"])
    assert st2.board.slots.confirmed()
    st3 = _boot(fresh=False)  # and nothing again at the next boot
    eq(st3.updater, None)
    eq(st3.reg._reason, "PowerUp")


async def test_a_trigger_while_downloading_answers_downloading():  # TC_F_19
    st = _boot()
    srv = Server(_IMAGE, pause_ms=1)
    srv.gate = asyncio.Event()
    await _ask(st, _req(3, sig=fwsig.BAD_SIG), srv)
    await _until(lambda: srv.calls)
    await asyncio.sleep_ms(20)
    eq(await hs.ask(st, "FirmwareStatusNotification"), ("Accepted", None))
    eq([i.payload for i in st.outbox.items if i.triggered], [{"status": "Downloading", "requestId": 3}])
    srv.gate.set()
    await _until(_done(st))
    eq(statuses(st)[-2:], ["Downloaded", "InvalidSignature"])
    eq(events(st), ["InvalidFirmwareSignature"])
    eq(st.fw.trigger_payload(), {"status": "InvalidSignature", "requestId": 3})  # L01.FR.26
    eq(st.board.slots.record()["active"], "a")  # TC_L_06: the running firmware untouched
    eq(st.resets, [])


async def test_signing_certificate_checked_before_answering():  # TC_L_05
    for pem, why in ((fwsig.FOREIGN, "BadSignature"), (fwsig.EXPIRED, "Expired"), ("junk", "BadCertificate")):
        st = _boot()
        hs.register(st)  # the clock is known: validity is checked
        resp = await _ask(st, _req(cert=pem), Server(_IMAGE))
        eq(resp["status"], "InvalidCertificate")
        assert resp["statusInfo"]["additionalInfo"].startswith(why), resp
        eq(events(st), ["InvalidFirmwareSigningCertificate"])
        eq(statuses(st), [])
    st = _boot(root=False)  # no manufacturer root installed at all
    eq((await _ask(st, _req(), Server(_IMAGE)))["status"], "InvalidCertificate")


async def test_unsigned_is_rejected():  # TC_L_18
    st = _boot()
    resp = await _ask(st, _req(cert=None, sig=None), Server(_IMAGE))
    eq(resp["status"], "Rejected")
    eq(statuses(st), [])
    eq(st.updater.job, None)


async def test_rsa_signatures_pss_and_v15():
    for sig in (fwsig.RSA_PSS, fwsig.RSA_V15):
        st = _boot()
        eq(await _ask(st, _req(cert=fwsig.RSA_SIGNER, sig=sig), Server(_IMAGE)), {"status": "Accepted"})
        await _until(_done(st))
        eq(statuses(st)[2], "SignatureVerified")
    st = _boot()
    await _ask(st, _req(cert=fwsig.RSA_SIGNER, sig=fwsig.SIG), Server(_IMAGE))  # an ECDSA signature: wrong
    await _until(_done(st))
    eq(statuses(st)[-1], "InvalidSignature")


async def test_retries_then_download_failed_once():  # TC_L_07
    st = _boot()
    srv = Server(_IMAGE, fail=99)
    await _ask(st, _req(retries=2, retryInterval=0), srv)
    await _until(_done(st))
    eq(srv.calls, 3)  # one attempt and two retries
    eq(statuses(st), ["Downloading", "DownloadFailed"])
    st = _boot()
    srv = Server(_IMAGE, fail=99)
    await _ask(st, _req(retries=0, retryInterval=0), srv)
    await _until(_done(st))
    eq(srv.calls, 1)  # 0 = no retry, one attempt all the same
    st = _boot()
    srv = Server(_IMAGE, fail=1)
    await _ask(st, _req(retries=1, retryInterval=0), srv)
    await _until(_done(st))
    eq(statuses(st)[:3], ["Downloading", "Downloaded", "SignatureVerified"])


async def test_a_new_request_cancels_the_running_one():  # TC_L_10
    st = _boot()
    slow = Server(_IMAGE, pause_ms=1)
    slow.gate = asyncio.Event()
    await _ask(st, _req(1), slow)
    await _until(lambda: slow.calls)
    eq(await _ask(st, _req(2), Server(_IMAGE)), {"status": "AcceptedCanceled"})
    slow.gate.set()
    await _until(_done(st))
    eq(statuses(st, 1), ["Downloading"])  # nothing more of the cancelled job
    eq(statuses(st, 2), ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"])


async def test_scheduled_download_and_install():  # TC_L_02 / TC_L_03
    st = _boot()
    await _ask(st, _req(retrieve=2, install=4), Server(_IMAGE))
    await _until(lambda: statuses(st))
    eq(statuses(st), ["DownloadScheduled"])
    await _until(_done(st), 10000)
    eq(statuses(st), ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled",
                      "Installing", "InstallRebooting"])


async def test_install_waits_for_the_transaction_free_evses_unavailable():  # TC_L_13 / TC_L_15
    st = _boot()
    hs.pins(1, plug=1, charging=1, root=_ROOT)
    hs.settle_inputs(st)
    assert st.tx.running(1)
    await _ask(st, _req(), Server(_IMAGE))
    await _until(lambda: "InstallScheduled" in statuses(st))
    eq(st.connectors.status(2), "Unavailable")  # not persisted: a reboot or the end restores it
    eq(st.connectors.status(1), "Occupied")
    eq(st.store.read("avail"), None)
    hs.pins(1, root=_ROOT)
    hs.settle_inputs(st)
    await _until(_done(st))
    eq(statuses(st)[-3:], ["InstallScheduled", "Installing", "InstallRebooting"])


async def test_allow_new_sessions_keeps_free_evses_available():
    st = _boot(dm={"ChargingStation.AllowNewSessionsPendingFirmwareUpdate": True})
    hs.pins(1, plug=1, charging=1, root=_ROOT)
    hs.settle_inputs(st)
    await _ask(st, _req(), Server(_IMAGE))
    await _until(lambda: "InstallScheduled" in statuses(st))
    eq(st.connectors.status(2), "Available")


async def test_an_image_that_does_not_confirm_reports_installation_failed():
    st = _boot()
    await _ask(st, _req(5), Server(_IMAGE))
    await _until(_done(st))
    b = station_slots.Slots(_SLOTS)
    b.boot()  # the new image starts (pending) and dies before confirming: the next boot rolls back
    st2 = _boot(fresh=False)
    eq((st2.board.slots.running, st2.board.slots.rolled_back), ("a", True))
    eq(st2.reg._reason, "FirmwareUpdate")
    hs.register(st2)
    await _until(lambda: st2.updater.job is None)
    eq(statuses(st2), ["InstallationFailed"])
    eq(events(st2), [])
    eq(st2.fw.trigger_payload(), {"status": "InstallationFailed", "requestId": 5})


async def test_reset_on_idle_waits_for_the_transaction_and_firmware_job():  # B11/B12
    st = _boot()
    hs.pins(1, plug=1, charging=1, root=_ROOT)
    hs.settle_inputs(st)
    eq(st.resetter().request({"type": "OnIdle"}), {"status": "Scheduled"})
    await asyncio.sleep_ms(1100)
    eq(st.resets, [])
    hs.pins(1, root=_ROOT)
    hs.settle_inputs(st)
    await _until(lambda: st.resets)
    st2 = _boot(fresh=False)
    eq(st2.reg._reason, "RemoteReset")
    eq(st.resetter().request({"type": "OnIdle", "evseId": 1})["status"], "Rejected")  # B11.FR.09


async def test_reset_immediate_ends_the_transaction_first():
    st = _boot()
    hs.pins(1, plug=1, charging=1, root=_ROOT)
    hs.settle_inputs(st)
    resp, after = st.resetter().request({"type": "Immediate"})
    eq(resp, {"status": "Accepted"})
    await after(True)
    eq(st.tx.running(1), None)
    eq(st.resets, [1])
    last = None
    while st.txq.peek():
        name, last = st.txq.peek()
        st.txq.ack(name)
    eq((last["eventType"], last["triggerReason"], last["transactionInfo"]["stoppedReason"]),
       ("Ended", "ResetCommand", "ImmediateReset"))


async def test_firmware_updated_once_after_a_cut_between_event_and_record():
    st = _boot()
    await _ask(st, _req(8), Server(_IMAGE))
    await _until(_done(st))
    st2 = _boot(fresh=False)
    # the new image queued Installed and FirmwareUpdated, and the power went before the record was removed
    from station.update import job

    assert st2.board.slots.confirm()  # its self-test passed (app._accepted), then it sent Installed
    j = job.load(st2.store)
    j["st"] = "Installed"
    job.save(st2.store, j)
    st2.security.event("FirmwareUpdated", "request 8, version x")
    st3 = _boot(fresh=False)
    hs.register(st3)
    await _until(lambda: st3.updater.job is None)
    eq(statuses(st3), ["Installed"])
    eq(events(st3), ["FirmwareUpdated"])  # the one queued before the cut, not a second
