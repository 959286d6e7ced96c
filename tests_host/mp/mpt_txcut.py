# Crash consistency of the transaction pipeline: the power is cut at every single write of the flash in
# turn (the storage adapter fails it before it starts, tears it half-way, or lets it complete and cuts
# right after), then the station boots again on the same flash (and that boot is cut at each of its own
# writes too). Whatever the CSMS received over all boots must be whole: seqNo continuous from 0, Started
# first, exactly one Ended, last; no transaction invented, none left open, no clock marker or 2000 date,
# times never going back within a transaction. Real Store, TxQueue, Transactions and clock.
import gc
import json
import os

from station import clock
from flash import PowerCut, rmtree
from mptest import eq
from station.model.device_model import DeviceModel
from station.store import Store
from station.model.tx import Transactions
from station.model.txq import TxQueue

HEAP = "192K"  # thousands of boots in one process: room for the garbage between collections
TIMEOUT = 600
# A RAM filesystem where there is one: thousands of boots, and the flash itself is not under test.
_ROOT = "/dev/shm/mpt_txcut" if "shm" in os.listdir("/dev") else "/tmp/mpt_txcut"
_MODES = ("before", "torn", "after")
_T0 = 1798000000 - clock.UNIX  # the CSMS's time at the first boot (2026-12); each later boot is 1000 s later


class Torn:
    # A file being written when the power goes: half of the data, then nothing.
    def __init__(self, f):
        self._f = f

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.close()
        raise PowerCut()

    def flush(self):
        pass


class CutFS:
    """The port's filesystem; write point number `at` (a file opened for writing, or a remove) cuts
    the power in the given mode. n counts the write points passed."""

    def __init__(self, at=-1, mode="before"):
        self.n = 0
        self.at = at
        self.mode = mode
        self._after = False
        self.listdir = os.listdir
        self.mkdir = os.mkdir
        self.stat = os.stat

    def _hit(self):
        k = self.n
        self.n += 1
        return k == self.at

    def open(self, path, mode="r"):
        if "w" not in mode:
            return open(path, mode)
        if self._hit():
            if self.mode == "before":
                raise PowerCut()
            if self.mode == "torn":
                return Torn(open(path, mode))
            self._after = True  # the write completes (rename included), then the power goes
        return open(path, mode)

    def rename(self, a, b):
        os.rename(a, b)
        if self._after:
            self._after = False
            raise PowerCut()

    def remove(self, path):
        if self._hit():
            if self.mode != "before":
                os.remove(path)  # removing is atomic: done or not
            raise PowerCut()
        os.remove(path)


def _reboot_clock():
    # What a power cut does to the clock module: RTC back at 2000, nothing known, a new boot.
    t2000 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()
    clock.use(lambda: t2000)
    clock._known = False
    clock._offset = 0
    clock._token = None
    clock._s = 0
    clock._ms = 0


class Station:
    """One boot of the transaction pipeline on the flash at _ROOT through fs."""

    def __init__(self, fs, bench, boot):
        _reboot_clock()
        self.bench = bench
        self.boot = boot
        self.dm = DeviceModel()
        self.dm.put("SampledDataCtrlr", "TxUpdatedInterval", 60)
        self.q = TxQueue(Store(_ROOT + "/q", fs))
        self.tx = Transactions(Store(_ROOT, fs), self.q, self.dm, self.sample, lambda: bench.online, lambda: None)

    def sample(self, e, meas, ctx):
        return [{"value": self.bench.energy[e], "measurand": m, "context": ctx} for m in meas]

    def clock_set(self):
        clock.set_from(clock.rfc3339(_T0 + 1000 * self.boot))
        self.q.settle()

    def deliver(self, n=1000):
        # The CSMS receives and acknowledges up to n events, in order, as the outbox would send them.
        while n > 0:
            h = self.q.peek()
            if h is None or not clock.fix(h[1]):
                return
            self.bench.got.append(json.loads(json.dumps(h[1])))
            self.q.ack(h[0])
            n -= 1

    def plug(self, e, plugged, charging):
        self.bench.plugged[e] = (plugged, charging)
        self.bench.energy[e] += 100
        self.tx.on_connector(e, 1, plugged, charging)


def first_boot(st):
    b = st.bench
    b.online = False
    st.plug(1, True, False)  # Started, offline and before the clock is known: markers on flash
    st.plug(1, True, True)
    st.clock_set()  # the CSMS's time arrives: markers rewritten with real times
    b.online = True
    st.deliver(1)
    st.plug(2, True, True)
    st.tx.trigger(1)
    st.tx.tick(0)
    st.tx.tick(60000)  # periodic Updated for both
    st.deliver(3)
    st.plug(1, False, False)
    b.online = False
    st.plug(2, True, False)  # EVSE 2 pauses and stays plugged in across the cut
    st.deliver()


def next_boot(st):
    b = st.bench
    st.tx.recover([1, 2], lambda e: b.plugged[e][0])
    for e in (1, 2):  # as app.run does: an EV still plugged in starts a new transaction
        p, c = b.plugged[e]
        if p and not st.tx.running(e):
            st.tx.on_connector(e, 1, p, c)
    st.clock_set()
    b.online = True
    for e in (1, 2):  # and the drivers come and unplug
        if st.tx.running(e):
            st.plug(e, False, False)
    st.deliver()


class Bench:
    def __init__(self):
        self.online = False
        self.got = []  # everything the CSMS received, over all boots
        self.plugged = {1: (False, False), 2: (False, False)}
        self.energy = {1: 1000, 2: 5000}


def run(cuts):
    """cuts: [(write point, mode)] for the first boots in turn; then a clean boot. Returns (bench or None
    when a cut point lay beyond its boot's writes, write points of each boot)."""
    gc.collect()
    rmtree(_ROOT)
    b = Bench()
    points = []
    specs = list(cuts) + [(-1, None)]
    if not cuts:  # no cut: the first boot runs through, a later boot (a plain power cut) ends the rest
        specs.append((-1, None))
    for boot in range(len(specs)):
        at, mode = specs[boot]
        fs = CutFS(at, mode)
        try:
            st = Station(fs, b, boot)
            (first_boot if boot == 0 else next_boot)(st)
        except PowerCut:
            points.append(fs.n)
            continue
        points.append(fs.n)
        if at >= 0:
            return None, points
    return b, points


def check(b, what):
    by = {}
    for e in b.got:
        by.setdefault(e["transactionInfo"]["transactionId"], {}).setdefault(e["seqNo"], []).append(e)
    assert by, what
    for tid in by:
        seqs = sorted(by[tid])
        eq(seqs, list(range(len(seqs))))  # continuous from 0: nothing lost, no gap
        first = [by[tid][s][0] for s in seqs]
        for s in seqs:  # a resend after a cut before the ack: the same event again
            one = by[tid][s][0]
            for dup in by[tid][s][1:]:
                eq((dup["eventType"], dup["triggerReason"]), (one["eventType"], one["triggerReason"]))
        kinds = [e["eventType"] for e in first]
        assert kinds[0] == "Started" and kinds[-1] == "Ended" and kinds.count("Ended") == 1, (what, tid, kinds)
        assert "Started" not in kinds[1:], (what, tid, kinds)
        ts = [e["timestamp"] for e in first]
        for t in ts:
            assert t[:1] != "@" and t >= "2026", (what, tid, ts)
        assert ts == sorted(ts), (what, tid, ts)  # Ended never before Started
    return len(by)


def test_power_cut_at_every_write_of_a_charging_station():
    b, points = run([])
    n = points[0]
    assert n > 20, points
    eq(check(b, "no cut"), 3)  # EVSE 1, EVSE 2 cut by the power loss, EVSE 2 again after it
    for at in range(n):
        for mode in _MODES:
            b, _ = run([(at, mode)])
            check(b, (at, mode))
    print("cut points covered:", 3 * n)


def test_power_cut_again_at_every_write_of_the_boot_after():
    n = run([])[1][0]
    covered = 0
    for at in range(n):
        for mode in _MODES:
            b, pts = run([(at, mode)])
            for at2 in range(pts[1]):  # the recovering boot, cut at each of its writes
                for mode2 in _MODES:
                    b2, _ = run([(at, mode), (at2, mode2)])
                    if b2 is not None:
                        check(b2, (at, mode, at2, mode2))
                        covered += 1
    print("cut points covered:", covered)
    assert covered > 3 * n
