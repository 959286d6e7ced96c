# Power cuts during a firmware update: the power goes at a random write point of the flash (a file opened
# for writing, a rename, a remove, or one chunk written into the image slot), before it, half-way through it
# or right after it; the station then boots again on the same flash (boot stage first: station_slots picks
# the slot) and goes on, with more cuts, until the job is over. Every run must end with an end state
# reported for the request (or no trace of it, when the cut came before the job was recorded), and no boot
# may ever start a slot that does not hold the whole verified image. Real station, Store, slots; the
# download is a stand-in of http.get's shape. Seeds pinned and printed.
import asyncio
import gc
import os
import random
import time

import fwsig
import hoststation as hs
import station_board
import station_slots
from flash import PowerCut, rmtree
from mptest import eq
from station import clock

HEAP = "512K"
TIMEOUT = 300
_ROOT = "/tmp/mpt_fwcut_%d" % (time.time_ns() % 1000000007)
_SLOTS = _ROOT + "/slots"
_ENDS = ("Installed", "DownloadFailed", "InvalidSignature", "InstallationFailed", "InstallVerificationFailed")


def _image(n=9000, fill=0x41):
    body = n - 6
    return b"\xd2\xcd\x31" + bytes([0x80 | (body >> 14) & 0x7F, 0x80 | (body >> 7) & 0x7F, body & 0x7F]) + \
        bytes([fill]) * body


_NEW = _image()
_OLD = _image(3000, 0x61)


class Reboot(BaseException):
    pass


class _File:
    # A file on the cutting flash: each write is a write point too (the image slot is written in chunks).
    def __init__(self, fs, f):
        self._fs = fs
        self._f = f

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def write(self, data):
        if self._fs.hit():
            if self._fs.mode != "before":
                self._f.write(data[: len(data) // 2] if self._fs.mode == "torn" else data)
            self._f.close()
            raise PowerCut()
        return self._f.write(data)

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()


class CutFS:
    def __init__(self, at=-1, mode="before"):
        self.n = 0
        self.at = at
        self.mode = mode
        self.listdir = os.listdir
        self.mkdir = os.mkdir
        self.stat = os.stat

    def hit(self):
        self.n += 1
        return self.n - 1 == self.at

    def open(self, path, mode="r"):
        if "w" not in mode:
            return open(path, mode)
        if self.hit():
            if self.mode != "before":
                open(path, mode).close()  # begun: the file exists, empty
            raise PowerCut()
        return _File(self, open(path, mode))

    def rename(self, a, b):
        if self.hit():
            if self.mode == "after":
                os.rename(a, b)
            raise PowerCut()
        os.rename(a, b)

    def remove(self, path):
        if self.hit():
            if self.mode != "before":
                os.remove(path)
            raise PowerCut()
        os.remove(path)


class Server:
    async def get(self, url, sink, ssl=None, buf=None, redirects=5, timeout_ms=15000):
        for i in range(0, len(_NEW), len(buf)):
            sink(memoryview(_NEW)[i:i + len(buf)])
            await asyncio.sleep_ms(0)
        return 200


def _fresh():
    rmtree(_ROOT)
    os.mkdir(_ROOT)
    os.mkdir(_SLOTS)
    with open(_SLOTS + "/a.img", "wb") as f:
        f.write(_OLD)
    os.mkdir(_ROOT + "/certs")
    with open(_ROOT + "/certs/m00", "wb") as f:
        f.write(fwsig.ROOT_DER)


def _check_slot(s):
    # the boot stage never starts a slot without the whole image: the old one, or the new verified one
    with open(s.path(s.running), "rb") as f:
        data = f.read()
    assert data in (_OLD, _NEW), "slot %s holds %d bytes that are no image of ours" % (s.running, len(data))


async def _cycle(fs, first, got):
    gc.collect()
    asyncio.new_event_loop()  # what a reset does to the tasks of the boot before
    clock._hooks[:] = []  # and to the clock's hooks into the last boot's station
    gc.collect()
    s = station_slots.Slots(_SLOTS, fs)
    s.boot()
    _check_slot(s)
    orig = station_board.make

    def make(cfg, slots=None):
        b = orig(cfg, s)
        b.fs = fs
        return b

    station_board.make = make
    try:
        st = hs.make(fresh=False, dir=_ROOT, pins=_ROOT + "/pins.json")
    finally:
        station_board.make = orig

    def reset():
        raise Reboot()

    st.board.reset = reset
    st.connectors.start()
    real_put = st.outbox.put

    def put(action, payload, **kw):  # what the CSMS gets, as if sent at once
        if action == "FirmwareStatusNotification":
            got.append(payload["status"])
        return real_put(action, payload, **kw)

    st.outbox.put = put
    hs.register(st)
    up = st.updater
    if first:
        up = st.update()
        up._get = Server().get
        up.ack_ms = 0
        fw = {"location": "http://x/fw.img", "retrieveDateTime": clock.rfc3339(clock.now() - 7200),
              "signingCertificate": fwsig.SIGNER, "signature": fwsig.SIG}
        r = await up.request({"requestId": 9, "firmware": fw, "retries": 0})
        eq(r[0], {"status": "Accepted"})
        r[1](True)
    elif up is not None:
        up._get = Server().get
        up.ack_ms = 0
        up.boot()
        st._accepted()  # the registration above ran before the update code was hooked in the test
    for _ in range(3000):
        if st.updater is None or st.updater.job is None:
            return s
        await asyncio.sleep_ms(2)
    raise AssertionError("the job never ended")


def _run(at, mode):
    # One update with the power cut at write point `at`; then boots without cuts until it is over.
    _fresh()
    got = []
    fs = CutFS(at, mode)
    first = True
    for _boot in range(6):
        try:
            s = asyncio.run(_cycle(fs, first, got))
            return got, s, fs.n
        except (PowerCut, Reboot):
            pass
        first = False
        fs = CutFS()
    raise AssertionError("no end after 6 boots: %r" % got)


def test_a_clean_run_counts_the_write_points():
    got, s, n = _run(-1, "before")
    eq(got[-1], "Installed")
    eq(s.running, "b")
    assert n > 10


def test_power_cuts_at_random_points():
    seed = 20261203
    print("seed", seed)
    rnd = random.Random(seed) if hasattr(random, "Random") else None
    if rnd is None:
        random.seed(seed)
        rnd = random
    _, _, total = _run(-1, "before")  # the write points of the first boot of a clean run
    ends = {}
    for _ in range(24):
        at = rnd.getrandbits(16) % total
        mode = ("before", "torn", "after")[rnd.getrandbits(8) % 3]
        got, s, _ = _run(at, mode)
        if got:
            assert got[-1] in _ENDS, "cut at %d (%s): %r" % (at, mode, got)
            assert got.count("Installed") <= 1, got
            eq(s.running == "b", got[-1] == "Installed")
        ends[got[-1] if got else None] = ends.get(got[-1] if got else None, 0) + 1
    print("end states over 24 cuts:", ends)
