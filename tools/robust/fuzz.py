"""Fuzz the real station over a real WebSocket with hypothesis-generated malformed frames and OCPP messages.

    .venv/bin/python tools/robust/fuzz.py [--examples 10000] [--seed N]

Every run prints its seed ("fuzz: seed N ..."), also one chosen at random when --seed is absent (make fuzz);
--seed N replays that run's inputs (the warm-up uses seed N, the main run N + 1).

The station is the product: tools/sim.py (firmware .mpy under the Unix port, pymodbus meter, 1 EVSE), with
boards/host/station_heapmon.py logging its live heap every second. The CSMS is the raw-frame AuditServer of
tools/csms/audit.py (answers the station's CALLs, checks them against the official schemas).
Each example is one input: bad JSON, wrong types, huge ids, deep nesting, invalid UTF-8, unknown actions,
oversized, truncated JSON, truncated frames, stray results, bad opcodes, control frames, fragments, and
well-formed CALLs with random payloads. After each one a probe CALL (GetVariables) must be answered.

Checks: every well-framed CALL ([2, "<1..36 chars>", "<action>", payload], valid UTF-8, within the
station's 16 KB message limit) gets a CALLRESULT or CALLERROR with its id; the connection stays up, except
after inputs RFC 6455 says end it (invalid UTF-8, binary or unknown opcodes, protocol errors, a frame cut
off), after which the station must reconnect; the station never logs an error line or traceback; its live
heap at the end is not above its level after warm-up (tolerance: HEAP_TOLERANCE). Exit status 1 on any failure.
"""

import argparse
import asyncio
import collections
import json
import os
import random
import re
import sys
import threading
import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from boards.host.sim.simctl import BAD_LINE, Station
from tools.bench import kit
from tools.csms.audit import AuditServer, frame

SID = "FUZZ-CS"
MAX_MESSAGE = 16384  # the station's default max_message (app.py)
# What the station may keep after the inputs, leak or not: state they legitimately set (an availability, a
# counter) and the last inputs' objects still reachable from a stale slot of MicroPython's conservative
# collector (measured: 1.5-11 KB). A leak of 60 B per input shows within the short test's 150 inputs.
HEAP_TOLERANCE = 8192
RECONNECT_S = 70  # a crashed connection task is restarted by sched.py with back-off up to 60 s
ACTIONS = ["TriggerMessage", "GetVariables", "SetVariables", "ChangeAvailability", "CertificateSigned",
           "Heartbeat", "Reset", "", "x" * 40, "TriggerMessage\u0000", "ünïcode"]
TRIGGERS = ["Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent", "LogStatusNotification",
            "FirmwareStatusNotification", "BootNotification", "SignV2GCertificate", "SignCombinedCertificate",
            "PublishFirmwareStatusNotification"]
# an error line of firmware/station/log.py ("<s.ms> E tag: ...") or a traceback; simctl's problems() also matches " E "
# inside an info line, e.g. an incoming CALL whose fuzzed action is "E"
PROBE = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}


class Server(AuditServer):
    """AuditServer that also indexes replies by id (thread-safe wait) and counts connections."""

    def __init__(self):
        super().__init__()
        self.replies = {}
        self.cv = threading.Condition()

    async def _message(self, text):
        await super()._message(text)
        msg = self.messages[-1]
        if msg and msg[0] in (3, 4):
            with self.cv:
                self.replies[msg[1]] = msg
                self.cv.notify_all()
        if len(self.messages) > 1000:
            del self.messages[:-100]

    async def _handle(self, r, w):
        await super()._handle(r, w)
        with self.cv:
            self.cv.notify_all()


# --- what to send ---------------------------------------------------------------------------------------------

def junk():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                        max_leaves=12)


def mid():
    return st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12).map(lambda s: "z" + s)


def ok_payload():
    return st.one_of(
        st.builds(lambda k, e: dict({"requestedMessage": k}, **({"evse": e} if e else {})),
                  st.sampled_from(TRIGGERS), st.one_of(st.none(), st.fixed_dictionaries(
                      {"id": st.integers(0, 3)}, optional={"connectorId": st.integers(0, 2)}))),
        st.just(PROBE))


def case(max_depth=9000, max_id=12000):
    """(name, bytes to send, id that must be answered or None, may end the connection, close TCP after)"""
    def text(name, s, answer=None, fatal=False):
        return (name, frame(1, s), answer, fatal, False)

    def call(m, action, payload):
        return json.dumps([2, m, action, payload])

    bad_json = st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                         st.sampled_from(["[", "]", "[2,", "{}", "null", "[2, \"a\", \"b\", {]", "[2,'a','b',{}]",
                                          "\ufeff[2,\"a\",\"Heartbeat\",{}]", "[NaN]", "[1e999999]"])
                         ).map(lambda s: text("bad json", s))
    wrong_types = st.builds(lambda m, a, p: text("wrong types", call(m, a, p), m),
                            mid(), st.sampled_from(ACTIONS[:6]), junk())
    wrong_shape = st.builds(lambda t, m, rest: text("wrong shape", json.dumps([t, m] + rest)),
                            st.one_of(st.sampled_from([2, 3, 4, 5, 0, -1, True, "2", 2.0, None]), junk()),
                            st.one_of(mid(), junk()), st.lists(junk(), max_size=4))
    huge_id = st.builds(lambda n, a: text("huge id", call("i" * n, a, {})),
                        st.integers(37, max_id), st.sampled_from(ACTIONS[:3]))
    num_id = st.builds(lambda m: text("numeric id", json.dumps([2, m, "Heartbeat", {}])),
                       st.one_of(st.integers(-2**80, 2**80), st.floats(allow_nan=False)))

    def nest(d, kind):
        o, c = ("[", "]") if kind else ('{"a":', "}")
        return o * d + "1" + c * d

    deep = st.builds(lambda m, d, kind, inside: text(
        "deep nesting", call(m, "TriggerMessage", {"requestedMessage": "Heartbeat", "customData": json.loads(
            "{\"vendorId\": \"x\", \"n\": %s}" % nest(min(d, 200), kind))}) if inside and d <= 200 else
        ('[2, "%s", "TriggerMessage", %s]' % (m, nest(d, kind))),
        m if (inside and d <= 200) or len(nest(d, kind)) + 40 <= MAX_MESSAGE else None),
        mid(), st.integers(1, max_depth), st.booleans(), st.booleans())
    bad_utf8 = st.builds(lambda pre, bad, post: ("invalid utf-8", frame(1, pre.encode() + bad + post.encode()),
                                                 None, True, False),
                         st.text(max_size=30), st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82",
                                                                b"\xf8\x88\x80\x80\x80", b"\x80"]),
                         st.text(max_size=30))
    unknown = st.builds(lambda m, a, p: text("unknown action", call(m, a, p), m),
                        mid(), st.text(min_size=1, max_size=30).filter(lambda a: a not in ACTIONS), junk())
    oversized = st.builds(lambda m, n, frag: (
        "oversized", frag_frames(call(m, "TriggerMessage", {"requestedMessage": "Heartbeat",
                                                            "customData": {"vendorId": "v", "pad": "p" * n}}),
                                 frag), None, False, False),
        mid(), st.integers(MAX_MESSAGE, 3 * MAX_MESSAGE), st.integers(1, 5))
    truncated = st.builds(lambda m, p, cut: text("truncated json", call(m, "TriggerMessage", p)[:cut]),
                          mid(), ok_payload(), st.integers(0, 60))
    cut_frame = st.builds(lambda m, cut: ("truncated frame", frame(1, call(m, "GetVariables", PROBE))[:cut],
                                          None, True, True), mid(), st.integers(1, 60))
    stray = st.builds(lambda t, m, p: text("stray result", json.dumps([t, m, p] if t == 3 else [t, m, "X", "", p])),
                      st.sampled_from([3, 4]), mid(), junk())
    bad_op = st.builds(lambda op, rsv, data: ("bad opcode/rsv", frame(op, data, rsv=rsv), None, True, False),
                       st.sampled_from([2, 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF, 0]), st.integers(0, 7),
                       st.binary(max_size=20))
    control = st.builds(lambda op, data: ("control frame", frame(op, data), None, False, False),
                        st.sampled_from([9, 10]), st.binary(max_size=125))
    valid = st.builds(lambda m, p: text("valid call", call(m, "GetVariables" if p is PROBE else "TriggerMessage", p),
                                        m), mid(), ok_payload())
    fragmented = st.builds(lambda m, p, n: ("fragmented call", frag_frames(call(m, "TriggerMessage", p), n),
                                            m, False, False), mid(), ok_payload(), st.integers(2, 8))
    return st.one_of(bad_json, wrong_types, wrong_shape, huge_id, num_id, deep, bad_utf8, unknown, oversized,
                     truncated, cut_frame, stray, bad_op, control, valid, fragmented)


def frag_frames(text, n):
    data = text.encode()
    step = max(1, len(data) // n)
    pieces = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(frame(1 if i == 0 else 0, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces))


def _rinse():
    """Small inputs of the kinds that leave objects behind: see Fuzzer.rinse."""
    def call(m, action, payload):
        return frame(1, json.dumps([2, m, action, payload]))

    return [frame(1, "["), frame(1, "\"x\""), frame(1, json.dumps([5, "r0"])),
            frame(1, json.dumps([2, 7, "Heartbeat", {}])),
            call("r1", "Heartbeat", {"x": 1}), call("r2", "NoSuchAction", {}), call("r3", "TriggerMessage", [[[[1]]]]),
            call("r4", "ChangeAvailability", {"operationalStatus": 1}), frame(1, json.dumps([3, "r5", {}])),
            frame(1, json.dumps([4, "r6", "X", "", {}])), frame(9, b"r"), frame(10, b"r"),
            frag_frames(json.dumps([2, "r7", "GetVariables", PROBE]), 3)]


RINSE = _rinse()


# --- the run ----------------------------------------------------------------------------------------------------

class Fuzzer:
    def __init__(self, heap="256K", heap_log_ms=1000, echo=False):
        self.heap, self.heap_log_ms, self.echo = heap, heap_log_ms, echo
        self.stats = {}
        self.failures = []
        self.reconnects = {}
        self.n = 0
        self.unanswered = 0
        self.problems_seen = 0

    def start(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.srv = self.run(Server().start())
        old = os.environ.get(kit.HEAP_ENV)
        os.environ[kit.HEAP_ENV] = str(self.heap_log_ms)
        try:
            self.st = Station(self.srv.url + "/ocpp", SID, heap=self.heap, echo=self.echo)
        finally:
            if old is None:
                os.environ.pop(kit.HEAP_ENV, None)
            else:
                os.environ[kit.HEAP_ENV] = old
        self.wait(lambda: self.srv.connections >= 1 and self.srv.writer is not None, 20)
        self.run(self.srv.wait_message(lambda m: m[0] == 2 and m[2] == "StatusNotification", timeout=20))
        # reconnect at once after a connection the fuzz input made the station end
        res = self.call("SetVariables", {"setVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}, "attributeValue": "0"}
            for n in ("RetryBackOffWaitMinimum", "RetryBackOffRandomRange")]})
        assert res and res[0] == 3, res
        return self

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait(self, pred, timeout):
        end = time.time() + timeout
        with self.srv.cv:
            while not pred():
                left = end - time.time()
                if left <= 0:
                    return False
                self.srv.cv.wait(min(left, 0.2))
        return True

    def reply(self, m, timeout=3):
        if self.wait(lambda: m in self.srv.replies, timeout):
            return self.srv.replies.pop(m)
        return None

    def send(self, data):
        try:
            self.run(self.srv.send(data))
            return True
        except (ConnectionError, AttributeError, RuntimeError):
            return False

    def call(self, action, payload, timeout=5):
        self.n += 1
        m = "p%d" % self.n
        if not self.send(frame(1, json.dumps([2, m, action, payload]))):
            return None
        return self.reply(m, timeout)

    def connected(self):
        return self.srv.writer is not None and not self.srv.closed.is_set()

    def one(self, c):
        name, data, answer, fatal, close_after = c
        s = self.stats.setdefault(name, [0, 0])
        s[0] += 1
        conns = self.srv.connections
        if answer is not None:
            self.srv.replies.pop(answer, None)
        self.send(data)
        if close_after:  # a frame cut off: the rest never comes, the TCP connection goes
            time.sleep(0.005)
            self.srv.writer.close()
        if fatal:  # the station may end the connection (RFC 6455): then it must come back
            self.wait(lambda: self.srv.closed.is_set() or self.srv.connections > conns, 0.5)
            if self.srv.closed.is_set() or self.srv.connections > conns:
                if not self.wait(lambda: self.srv.connections > conns and self.connected(), RECONNECT_S):
                    self.failures.append("%s: station did not reconnect within %d s" % (name, RECONNECT_S))
                    raise AssertionError(self.failures[-1])
                s[1] += 1
                conns = self.srv.connections
        if answer is not None and self.reply(answer) is None:
            if self.srv.connections == conns and self.connected():
                self.unanswered += 1
                self.failures.append("%s: well-framed CALL %r not answered: %r" % (name, answer, data[:120]))
        probe = self.call("GetVariables", PROBE, timeout=3)
        if probe is None:
            # the station ended the connection (or we did): it must come back, and only after allowed input
            if not fatal:
                self.failures.append("%s: connection lost or probe unanswered after %r" % (name, data[:120]))
            if not self.wait(lambda: self.srv.connections > conns and self.connected(), RECONNECT_S):
                self.failures.append("%s: station did not reconnect within %d s" % (name, RECONNECT_S))
                raise AssertionError(self.failures[-1])
            s[1] += 1
            probe = self.call("GetVariables", PROBE, timeout=5)
            if probe is None:
                self.failures.append("%s: probe unanswered after reconnecting" % name)
                raise AssertionError(self.failures[-1])
        if probe[0] != 3:
            self.failures.append("%s: probe answered %r" % (name, probe))
        bad = self.problems()
        if len(bad) > self.problems_seen:  # reported once, with the input that caused it; the fuzzing goes on
            self.failures.append("%s: station logged %s after %r" % (name, bad[self.problems_seen][:400], data[:200]))
            self.problems_seen = len(bad)

    def settle(self, samples=6):
        """Rinse, then wait until the station has caught up: it answered a probe CALL (so every earlier input is
        handled) and logged `samples` more heap samples. Returns the index of the first of them."""
        self.rinse()
        probe = self.call("GetVariables", PROBE)
        assert probe and probe[0] == 3, probe
        start = len(self.heap_live())
        end = time.time() + 60  # only against a hang
        while len(self.heap_live()) < start + samples:
            assert time.time() < end, "no heap samples from the station"
            time.sleep(0.1)
        return start

    def load(self):
        """Every path that loads code on first use (producers, the CSR's and the certificates' modules, schema
        tables: ~9 KB under ROMFS), so that a heap comparison sees state, not modules a random input happened
        to load late (a random warm-up that missed the certificate modules showed +9.2 KB, seed 1407538797)."""
        for k in TRIGGERS + ["SignChargingStationCertificate"]:
            for e in (None, {"id": 1, "connectorId": 1}):
                self.call("TriggerMessage", dict({"requestedMessage": k}, **({"evse": e} if e else {})))
        self.call("CertificateSigned",
                  {"certificateChain": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"})
        for action in ACTIONS:  # each action's schema table is decoded on its first use
            self.call(action, {})

    def rinse(self):
        # MicroPython's collector is conservative: what the last big input built (a 12,000-character id, a
        # parsed junk payload) can stay reachable from a stale slot of a coroutine or C frame that only an
        # input taking the same path overwrites, and probes take none of those paths. Before each heap
        # level is read, one small input of each kind takes those paths. Measured: it did not lower the
        # 1.5-3 KB residues seen; whether it clears the rarer 11 KB one is not known.
        for data in RINSE:
            self.send(data)


    def fuzz(self, examples, seed=None, max_depth=9000, max_id=12000):
        """Send examples inputs drawn with this seed (None: a random one); prints and returns the seed, so
        a failing run replays with the same inputs."""
        if seed is None:
            seed = random.SystemRandom().randrange(1 << 32)
        print("fuzz: seed %d, %d examples (replay: fuzz(%d, seed=%d))" % (seed, examples, examples, seed),
              flush=True)

        # generate only: shrinking would replay inputs against a station whose state has moved on
        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.generate])
        @given(c=case(max_depth, max_id))
        def go(c):
            self.one(c)

        go()
        return seed

    def problems(self):
        return [ln for ln in list(self.st.lines) if BAD_LINE.match(ln)]

    def heap_live(self):
        return [s[0] for s in kit.heap_samples(self.st.lines)]

    def close(self):
        self.st.stop()
        self.run(self.srv.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


def heap_verdict(samples, warm_index, end_index, n=6):
    """(warm level, end level, grew?) from the heap samples that Fuzzer.settle() returned the indexes of.
    The lowest of n samples at each end: a sample can only be above the live set (the two phases of the
    monitor's own period alternate about 1.6 KB apart), never below it."""
    w, e = samples[warm_index:warm_index + n], samples[end_index:end_index + n]
    if len(w) < n or len(e) < n:
        return None, None, False
    return min(w), min(e), min(e) - min(w) > HEAP_TOLERANCE


def _failure_kind(f):
    name, rest = f.split(": ", 1)
    if "logged" in rest:
        m = re.search(r" E ([^(]*\(?'?[^',]*)", rest)
        return "%s: error logged: %s" % (name, m.group(1)[:80] if m else rest[:60])
    return "%s: %s" % (name, rest.split(" after")[0].split(" not answered")[0][:60] if "not answered" not in rest
                       else "well-framed CALL not answered")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=10000)
    ap.add_argument("--seed", type=int, help="replay a run (default: a random seed, printed)")
    ap.add_argument("--max-depth", type=int, default=9000, help="deepest JSON nesting sent")
    ap.add_argument("--echo", action="store_true", help="print the station log")
    ap.add_argument("--heap", default="256K", help="the station's -X heapsize (tools/sim.py's default: 256K)")
    a = ap.parse_args()
    base = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
    print("fuzz: seed %d (replay: tools/robust/fuzz.py --seed %d --examples %d%s)" % (
        base, base, a.examples, "" if a.heap == "256K" else " --heap " + a.heap), flush=True)
    fz = Fuzzer(heap=a.heap, echo=a.echo).start()
    t0 = time.time()
    err = None
    try:
        fz.fuzz(min(300, a.examples), base, a.max_depth)  # warm-up: lazy imports, first-use tables
        fz.load()
        warm_index = fz.settle()
        fz.fuzz(max(a.examples - 300, 1), base + 1, a.max_depth)
        end_index = fz.settle()
    except Exception as e:  # noqa: BLE001 - reported below with the failures
        err = e
    finally:
        fz.close()
    wall = time.time() - t0
    samples = fz.heap_live()
    warm, end, grew = heap_verdict(samples, warm_index, end_index) if err is None else (None, None, False)
    total = sum(v[0] for v in fz.stats.values())
    rows = [(k, v[0], v[1]) for k, v in sorted(fz.stats.items())]
    text = kit.table(("input kind", "examples", "station reconnected after"), rows + [("total", total, sum(
        v[1] for v in fz.stats.values()))])
    text += "\n\nseed %d (replay: --seed %d)" % (base, base)
    text += "\n%d examples in %.0f s; well-framed CALLs unanswered: %d; failures: %d; station log errors: %d" % (
        total, wall, fz.unanswered, len(fz.failures), len(fz.problems()))
    if warm is not None:
        text += "\nlive heap after warm-up %d B, at the end %d B (%+d B; tolerance %d B): %s" % (
            warm, end, end - warm, HEAP_TOLERANCE, "GREW" if grew else "no growth")
    if err is not None:
        text += "\nstopped: %s" % err
    kinds = collections.Counter(_failure_kind(f) for f in fz.failures)
    firsts = {}
    for f in fz.failures:
        firsts.setdefault(_failure_kind(f), f)
    if kinds:
        text += "\n\n" + kit.table(("failure", "count", "first example"), [
            (k, n, firsts[k][:160].replace("|", "/")) for k, n in kinds.most_common()])
    data = {"examples": total, "by_kind": {k: {"n": v[0], "reconnects": v[1]} for k, v in fz.stats.items()},
            "failures": {k: [n, firsts[k]] for k, n in kinds.items()}, "unanswered": fz.unanswered, "seed": base,
            "heap_warm": warm, "heap_end": end,
            "heap_grew": grew, "wall_s": wall, "error": repr(err) if err else None}
    name = "fuzz" if a.heap == "256K" else "fuzz-" + a.heap.lower()
    cmd = "make fuzz" if a.heap == "256K" else ".venv/bin/python tools/robust/fuzz.py --heap " + a.heap
    kit.save(name, "WebSocket fuzzing of the station (-X heapsize=%s)" % a.heap, text, data, cmd)
    if err or fz.failures or grew:
        sys.exit(1)


if __name__ == "__main__":
    main()
