"""GetLog (N01) end to end: the real station under the Unix port, the `ocpp` package CSMS, and a real
CPython HTTP(S) server (tools/csms/files.py) that stores what the station uploads.
TC_N_25/35, TC_N_26, TC_N_36, TC_F_16, the security log, PUT fallback, Basic auth, HTTPS."""

import datetime
import time


from boards.host.sim.simctl import sent_after, trigger
from tools.csms.files import FileServer, tls_context
from tools.csms.dev import CSMS

LSN = "LogStatusNotification"


def _getlog(csms, sid, url, rid, kind="DiagnosticsLog", **kw):
    log = {"remoteLocation": url}
    for k in ("oldestTimestamp", "latestTimestamp"):
        if k in kw:
            log[k] = kw.pop(k)
    return csms.call(sid, "GetLog", dict({"logType": kind, "requestId": rid, "log": log}, **kw))


def _statuses(csms, since=0):
    return [(m.payload["status"], m.payload.get("requestId")) for m in csms.log[since:]
            if m.dir == "in" and m.action == LSN]


def _wait_status(csms, status, rid, timeout=30):
    csms.wait(lambda log: (status, rid) in _statuses(csms), timeout)


def _lines(body):
    return [ln for ln in body.decode().split("\n") if ln]


def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _t(line):
    return datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_tc_n_25_diagnostics_log_uploaded_with_recent_lines(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-N25")
        csms.wait_for("StatusNotification")
        r = _getlog(csms, "CS-N25", fs.url("/upload"), 7)
        assert r["status"] == "Accepted" and r["filename"]  # N01.FR.01
        _wait_status(csms, "Uploaded", 7)
        assert _statuses(csms) == [("Uploading", 7), ("Uploaded", 7)]
        (up,) = fs.received
        assert up.method == "POST" and up.filename == r["filename"]  # N01.FR.19
        assert up.headers["Content-Type"].startswith("multipart/form-data")
        lines = _lines(up.body)
        # the station's own log, with times: its BootNotification answer and the GetLog are in it
        assert any("BootNotification Accepted" in ln for ln in lines), lines[-20:]
        assert any("GetLog" in ln for ln in lines), lines[-20:]
        stamped = [ln for ln in lines if ln[:1] != "@"]
        assert stamped and all(abs(_t(ln) - time.time()) < 600 for ln in stamped)


def test_timestamps_inside_log_filter_the_lines(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-N35")
        csms.wait_for("StatusNotification")
        time.sleep(2.1)
        cut = int(time.time())  # whole seconds, as the station's clock: boot lines are at `cut` or before
        time.sleep(2.1)  # and what follows is at cut + 1 or later
        n = len(csms.log)
        assert trigger(csms, "CS-N35", "Heartbeat")[0]["status"] == "Accepted"
        sent_after(csms, n, "Heartbeat")
        _getlog(csms, "CS-N35", fs.url("/new"), 1, oldestTimestamp=_iso(cut + 1))
        _wait_status(csms, "Uploaded", 1)
        _getlog(csms, "CS-N35", fs.url("/old"), 2, latestTimestamp=_iso(cut))
        _wait_status(csms, "Uploaded", 2)
        new, old = (_lines(u.body) for u in fs.received)
        assert any("TriggerMessage" in ln for ln in new) and not any("BootNotification Accepted" in ln for ln in new)
        assert any("BootNotification Accepted" in ln for ln in old) and not any("TriggerMessage" in ln for ln in old)
        assert all(_t(ln) >= cut + 1 for ln in new if ln[:1] != "@")
        assert all(_t(ln) <= cut for ln in old if ln[:1] != "@")


def test_tc_n_26_failing_server_retries_then_fails(stations):
    with CSMS() as csms, FileServer() as fs:
        fs.fail = [500] * 10
        stations(csms, "CS-N26")
        csms.wait_for("StatusNotification")
        assert _getlog(csms, "CS-N26", fs.url("/x"), 3, retries=3, retryInterval=2)["status"] == "Accepted"
        _wait_status(csms, "UploadFailure", 3, timeout=60)
        assert len(fs.received) == 4  # one attempt and three retries
        gaps = [b.t - a.t for a, b in zip(fs.received, fs.received[1:], strict=False)]
        assert all(g >= 1.9 for g in gaps), gaps  # the retryInterval is honoured between attempts
        final = [m for m in csms.log if m.dir == "in" and m.action == LSN][-1]
        assert final.t >= fs.received[-1].wall  # after the last attempt had reached the server
        # failure reported once, after the last attempt, never after each one
        assert _statuses(csms) == [("Uploading", 3), ("UploadFailure", 3)]


def test_permission_denied_and_put_fallback_and_basic_auth(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-NA")
        csms.wait_for("StatusNotification")
        fs.auth = ("tech", "s3cret pw")
        _getlog(csms, "CS-NA", fs.url("/a", "tech:wrong"), 1, retries=0)
        _wait_status(csms, "PermissionDenied", 1)
        fs.refuse_post = True
        _getlog(csms, "CS-NA", fs.url("/b", "tech:s3cret%20pw"), 2)
        _wait_status(csms, "Uploaded", 2)
        post, put = fs.received[1:]
        assert (post.method, put.method) == ("POST", "PUT")  # 405 to the POST: the raw file by PUT
        assert put.body.startswith(b"20") and b"GetLog" in put.body


def test_tc_n_36_new_getlog_cancels_the_running_upload(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-N36")
        csms.wait_for("StatusNotification")
        fs.hold.clear()  # the first upload hangs on the server
        assert _getlog(csms, "CS-N36", fs.url("/one"), 1)["status"] == "Accepted"
        _wait_status(csms, "Uploading", 1)
        fs.wait_received(1)
        r = _getlog(csms, "CS-N36", fs.url("/two"), 2)
        assert r["status"] == "AcceptedCanceled" and r["filename"]
        fs.hold.set()
        _wait_status(csms, "Uploaded", 2)
        assert _statuses(csms) == [("Uploading", 1), ("AcceptedCanceled", 1), ("Uploading", 2), ("Uploaded", 2)]
        assert [u.path for u in fs.received][-1] == "/two"


def test_tc_f_16_trigger_while_uploading(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-F16")
        csms.wait_for("StatusNotification")
        fs.hold.clear()
        assert _getlog(csms, "CS-F16", fs.url("/slow"), 16)["status"] == "Accepted"
        _wait_status(csms, "Uploading", 16)
        res, i = trigger(csms, "CS-F16", LSN)
        assert res["status"] == "Accepted"
        assert sent_after(csms, i, LSN)[0].payload == {"status": "Uploading", "requestId": 16}  # F06.FR.14
        fs.hold.set()
        _wait_status(csms, "Uploaded", 16)
        res, i = trigger(csms, "CS-F16", LSN)
        assert sent_after(csms, i, LSN)[0].payload == {"status": "Idle"}  # F06.FR.15: Idle after Uploaded


def test_security_log_holds_the_security_events(stations):
    with CSMS() as csms, FileServer() as fs:
        stations(csms, "CS-NS")
        csms.wait_for("SecurityEventNotification")
        r = _getlog(csms, "CS-NS", fs.url("/sec"), 5, kind="SecurityLog")
        assert r["status"] == "Accepted" and "security" in r["filename"]
        _wait_status(csms, "Uploaded", 5)
        lines = _lines(fs.received[0].body)
        assert any("StartupOfTheDevice: PowerUp" in ln for ln in lines), lines
        assert not any("GetLog" in ln for ln in lines)  # the diagnostics lines are not in it


def test_unsupported_scheme_is_rejected(stations):
    with CSMS() as csms:
        stations(csms, "CS-NF")
        csms.wait_for("StatusNotification")
        r = _getlog(csms, "CS-NF", "ftp://127.0.0.1/logs", 9)
        assert r["status"] == "Rejected" and r["statusInfo"]["reasonCode"] == "UnsupportedProtocol"
        r = csms.call("CS-NF", "GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "FileTransferProtocols"}}]})
        assert r["getVariableResult"][0]["attributeValue"] == "HTTP,HTTPS"


def test_https_upload_trusts_an_installed_csms_root(stations, tmp_path):
    ctx, ca_pem = tls_context(tmp_path)
    with CSMS() as csms, FileServer(ssl=ctx, name="localhost") as fs:
        stations(csms, "CS-NH")
        csms.wait_for("StatusNotification")
        _getlog(csms, "CS-NH", fs.url("/tls"), 1)  # no anchor for this server yet: never unverified
        _wait_status(csms, "UploadFailure", 1, timeout=60)
        assert not fs.received  # the TLS handshake failed: no request reached it
        r = csms.call("CS-NH", "InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": ca_pem})
        assert r["status"] == "Accepted"
        _getlog(csms, "CS-NH", fs.url("/tls"), 2)  # N01.FR.15: the CSMS's roots are trusted
        _wait_status(csms, "Uploaded", 2)
        assert b"GetLog" in fs.received[0].body


def test_power_cut_during_an_upload(stations):
    with CSMS() as csms, FileServer() as fs:
        st = stations(csms, "CS-NP")
        csms.wait_for("StatusNotification")
        fs.hold.clear()
        _getlog(csms, "CS-NP", fs.url("/cut"), 1, retries=0)
        _wait_status(csms, "Uploading", 1)
        fs.wait_received(1)
        n = len(csms.log)
        st.cmd(cmd="power_cut")
        sent_after(csms, n, "BootNotification", timeout=30)
        csms.wait(lambda log: any(m.action == "StatusNotification" for m in log[n:] if m.dir == "in"), 30)
        fs.hold.set()
        res, i = trigger(csms, "CS-NP", LSN)
        assert sent_after(csms, i, LSN)[0].payload == {"status": "Idle"}  # no upload survives a reset
        _getlog(csms, "CS-NP", fs.url("/after"), 2)
        _wait_status(csms, "Uploaded", 2)
        text = fs.received[-1].body.decode()
        # the log of the boot before the cut is intact up to the upload's start (its lines went to flash
        # then; what a cut catches in the RAM buffer, at most 10 s of lines, is lost)
        before = text.split("StartupOfTheDevice")[1]  # from the first boot's start to the second's
        assert "BootNotification Accepted" in before and "GetLog" in before, text[-3000:]
        assert text.count("StartupOfTheDevice") >= 2
