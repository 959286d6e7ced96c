"""Heap of the whole station under the Unix port (tools/sim.py), a fixed scenario.

    .venv/bin/python tools/bench/heap.py [--rounds 100] [--no-bisect] [--no-image]

The firmware runs from its image (ROMFS, bytecode in place), as a board runs it from flash; --no-image runs it from
.mpy files loaded into the heap, as `make deploy` on stock MicroPython would (results/heap-mpy.md).

Scenario: boot with 2 EVSEs (pymodbus SDM630 meters), a transaction started on each, every one of the eleven
TriggerMessage kinds `rounds` times (the requested message awaited when Accepted), both transactions ended,
the CSMS restarted (the station reconnects), one more TriggerMessage. It passes when every trigger is answered,
every Accepted one delivers its message, both transactions end, the `ocpp` CSMS finds no schema error and the
station logs no error or traceback.

What is measured (x86-64 objects are about twice their ESP32 size):
- the live heap, sampled by boards/host/station_heapmon.py every 100 ms after gc.collect() (STATION_HEAP_LOG_MS):
  after start-up, and its maximum over the scenario (short-lived peaks between samples are not seen);
- "code": the heap the loaded modules take when imported in a fresh process, from the same image (or .mpy
  files) and the same module set as the station had then: from an image, the function, class and module objects
  and tables MicroPython builds in RAM around bytecode that stays in place; from .mpy, the bytecode too;
- "image": the Unix port has no memory-mapped flash, so the image is read into the heap (boards/host/main.py);
  every figure here is without it, and tools/sim.py adds it on top of --heap (on a board it stays in flash);
- "state" = live heap - code of the modules loaded at that moment;
- the smallest --heap at which the scenario passes (bisection, heap logging off), which includes code
  and every short-lived peak.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from boards.host.sim.simctl import Station
from tools import ROOT
from tools.bench import kit
from tools.build import image, mpy
from tools.csms.dev import CSMS

SID = "HEAP-CS"
BUDGET_HEAP_K = 96  # issue 15: the whole scenario in 96K of heap beyond the image (x86-64)
BUDGET_PEAK = 24 * 1024


def set_vars(csms, sid, **kv):
    data = [{"component": {"name": k.split("__")[0]}, "variable": {"name": k.split("__")[1]},
             "attributeValue": str(v)} for k, v in kv.items()]
    res = csms.call(sid, "SetVariables", {"setVariableData": data})["setVariableResult"]
    assert all(r["attributeStatus"] == "Accepted" for r in res), res


def tx_ended(csms, count):
    return lambda log: len([m for m in log if m.dir == "in" and m.action == "TransactionEvent"
                            and m.payload["eventType"] == "Ended"]) >= count


def scenario(heap, rounds, heap_log_ms=None, echo=False, no_image=False):
    """Run the scenario once; returns (passed, reason, samples, log lines, marks)."""
    env_before = os.environ.get(kit.HEAP_ENV)
    if heap_log_ms:
        os.environ[kit.HEAP_ENV] = str(heap_log_ms)
    else:
        os.environ.pop(kit.HEAP_ENV, None)
    marks = {}
    csms = CSMS(interval=300).start()
    st = None
    try:
        st = Station(csms.url + "/ocpp", SID, evses=2, heap=heap, echo=echo, extra=("--no-image",) if no_image else ())
        try:
            csms.wait_for("StatusNotification", 2, timeout=20)
            set_vars(csms, SID, OCPPCommCtrlr__RetryBackOffWaitMinimum=1, OCPPCommCtrlr__RetryBackOffRandomRange=0)
            time.sleep(1.0)
            marks["startup"] = len(st.lines)
            time.sleep(0.3)
            for e in (1, 2):
                st.cmd(cmd="plug", evse=e)
                st.wait_log("connector: evse %d: Occupied" % e)
                st.cmd(cmd="charge", evse=e, power_w=7400 + 3600 * e)
            csms.wait(lambda log: len([m for m in log if m.dir == "in" and m.action == "TransactionEvent"]) >= 4, 15)
            time.sleep(1.5)  # a few meter polls with the power flowing: fresh readings for MeterValues
            for kind in kit.KINDS:
                for i in range(rounds):
                    kit.trigger(csms, SID, kind, i)
            for e in (1, 2):
                st.cmd(cmd="unplug", evse=e)
            csms.wait(tx_ended(csms, 2), 15)
            port = csms.port
            csms.stop()
            time.sleep(0.5)
            old, csms = csms, CSMS(interval=300, port=port).start()
            old.log = []
            csms.wait_connected(SID, timeout=20)
            status, _, _ = kit.trigger(csms, SID, "Heartbeat")
            assert status == "Accepted"
            time.sleep(0.5)
            marks["end"] = len(st.lines)
        except Exception as e:  # noqa: BLE001 - any failure means: does not pass at this heap size
            why = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120] if str(e) else "")
            bad = st.problems()
            why += "; station: " + (bad[0].replace("\n", " | ")[:300] if bad else " | ".join(st.lines[-3:]))
            return False, why, [], list(st.lines), marks
        finally:
            st.stop()
        if st.problems():
            return False, "station log: " + st.problems()[0].splitlines()[0][:200], [], list(st.lines), marks
        if csms.errors():
            return False, "CSMS schema errors: %r" % csms.errors()[:2], [], list(st.lines), marks
        return True, "", kit.heap_samples(st.lines), list(st.lines), marks
    finally:
        csms.stop()
        if env_before is None:
            os.environ.pop(kit.HEAP_ENV, None)
        else:
            os.environ[kit.HEAP_ENV] = env_before


CODE = r"""
import gc, os, sys
gc.collect()
b = gc.mem_alloc()
if len(sys.argv) > 2:  # mounted as boards/host/main.py mounts it
    import vfs
    img = bytearray(os.stat(sys.argv[2])[6])
    with open(sys.argv[2], "rb") as f:
        f.readinto(img)
    vfs.mount(vfs.VfsRom(img), "/rom")
    sys.path[:] = ["/rom", ".frozen"]
gc.collect()
a = gc.mem_alloc()
for m in open(sys.argv[1]).read().split(","):
    __import__(m)
gc.collect()
print("CODE", gc.mem_alloc() - a, a - b)
"""
IMAGE = os.path.join(mpy.OUT, "heap-bench.img")  # the build the simulator boots (image.build is deterministic)


def code_heap(modules, img=None, image_cost=False):
    """Heap taken by importing these modules in a fresh micropython (no station objects), from the image
    file img or from .mpy; with image_cost, (that, the heap the image buffer itself takes)."""
    env = dict(os.environ, MICROPYPATH=mpy.unix_path("host"))
    # station_slots is the boot stage, imported from .mpy before the image is mounted (a few hundred bytes)
    skip = ("__main__", "main", "station_version") + (("station_slots",) if img else ())
    mods = [m for m in modules if m not in skip]
    # the module list goes in a file: the Unix port aborts on an argv item of 256+ characters
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write(",".join(mods))
        f.flush()
        out = subprocess.run([mpy.micropython(), "-X", "heapsize=1M",
                              "-c", CODE, f.name] + ([img] if img else []), env=env, capture_output=True, text=True,
                             timeout=30)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("CODE")]
    if not line:
        raise RuntimeError(out.stdout + out.stderr)
    code, buf = (int(x) for x in line[0].split()[1:])
    return (code, buf) if image_cost else code


def state_peak(lines, img=None, buf=0):
    """Max over samples of (alloc - image buffer - code of the modules loaded at that sample)."""
    cache = {}
    mods = None
    best = (0, 0, 0)
    for ln in lines:
        if " I heap: modules " in ln:
            mods = tuple(ln.split(" I heap: modules ", 1)[1].split())
        s = kit.heap_samples([ln])
        if s and mods:
            if mods not in cache:
                cache[mods] = code_heap(mods, img)
            if s[0][0] - buf - cache[mods] > best[0]:
                best = (s[0][0] - buf - cache[mods], s[0][0] - buf, cache[mods])
    return best


def bisect(rounds, lo_k, hi_k, step_k=4, no_image=False):
    """Smallest --heap (KiB, multiple of step_k) in [lo_k, hi_k] that passes; None if hi_k fails."""
    tried = {}
    ok, why, *_ = scenario("%dK" % hi_k, rounds, no_image=no_image)
    tried[hi_k] = (ok, why)
    print("  --heap %4dK: %s" % (hi_k, "passes" if ok else "fails (%s)" % why), flush=True)
    if not ok:
        return None, tried
    lo, hi = lo_k // step_k, hi_k // step_k
    while lo < hi:
        mid = (lo + hi) // 2
        ok, why, *_ = scenario("%dK" % (mid * step_k), rounds, no_image=no_image)
        tried[mid * step_k] = (ok, why)
        print("  --heap %4dK: %s" % (mid * step_k, "passes" if ok else "fails (%s)" % why), flush=True)
        if ok:
            hi = mid
        else:
            lo = mid + 1
    return hi * step_k, tried


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=100, help="triggers per kind")
    ap.add_argument("--no-bisect", action="store_true")
    ap.add_argument("--no-image", action="store_true", help="the firmware from .mpy files in the heap")
    ap.add_argument("--echo", action="store_true", help="print the station log")
    a = ap.parse_args()
    img, buf = None, 0
    if not a.no_image:
        os.makedirs(mpy.OUT, exist_ok=True)
        with open(IMAGE, "wb") as f:
            f.write(image.build("host"))
        img = IMAGE
        buf = code_heap(["station"], img, image_cost=True)[1]
    print("scenario with heap sampling (256K heap, %d rounds per trigger kind)..." % a.rounds, flush=True)
    ok, why, samples, lines, marks = scenario("256K", a.rounds, heap_log_ms=100, echo=a.echo, no_image=a.no_image)
    if not ok:
        print("the scenario failed at 256K: " + why)
        print("\n".join(lines[-40:]))
        sys.exit(1)
    samples = [(s[0] - buf,) + tuple(s[1:]) for s in samples]
    start = kit.heap_samples(lines, marks["startup"])[0][0] - buf
    start_mods = None  # the module list in force at the start-up sample
    for i, ln in enumerate(lines):
        if " I heap: modules " in ln:
            start_mods = ln.split(" I heap: modules ", 1)[1].split()
        if i >= marks["startup"] and kit.heap_samples([ln]):
            break
    code_start = code_heap(start_mods, img)
    all_mods = kit.modules_loaded(lines)
    code_all = code_heap(all_mods, img)
    peak = max(s[0] for s in samples)
    end = kit.heap_samples(lines, marks["end"])
    end = (end[0][0] if end else samples[-1][0] + buf) - buf
    sp, sp_alloc, sp_code = state_peak(lines, img, buf)
    lo_guess = max(32, (code_start // 1024) // 4 * 4)
    min_k, tried = (None, {})
    if not a.no_bisect:
        print("bisecting the smallest --heap that passes (heap logging off)...", flush=True)
        min_k, tried = bisect(a.rounds, lo_guess, 256, no_image=a.no_image)
    state_start = start - code_start
    where = "image (ROMFS, bytecode in place)" if img else ".mpy files (bytecode in the heap)"
    other = os.environ.get("STATION_MICROPYTHON")
    if other:  # a build of our own (tools/build/unix32.py): the firmware frozen in
        where = "firmware frozen into " + os.path.relpath(other, ROOT)
    rows = [
        ("heap after start-up (code + state)", "%d B" % start, "2 EVSEs booted, registered, statuses sent"),
        ("  code: modules loaded at start-up (%d)" % len(start_mods), "%d B" % code_start,
         "import cost: " + ("objects and tables around the bytecode in the image" if img else
                            "what importing the frozen modules builds in RAM" if other else "from the .mpy files")),
        ("  state after start-up", "%d B" % state_start, "objects: device model, queues, buffers, tasks"),
        ("peak live heap during the scenario", "%d B" % peak, "max of %d samples (100 ms, after gc.collect)" %
         len(samples)),
        ("peak above start-up", "%d B" % (peak - start),
         "budget <= %d B: %s" % (BUDGET_PEAK, "met" if peak - start <= BUDGET_PEAK else "NOT met")),
        ("  of which code loaded on demand", "%d B" % (code_all - code_start),
         "producers, schema tables, certs (%d modules at the end)" % len(all_mods)),
        ("  state peak above start-up state", "%d B" % (sp - state_start),
         "max(live - code loaded then) - state after start-up"),
        ("heap at the end (after reconnect)", "%d B" % end, "vs start-up %+d B" % (end - start)),
        ("code of every module loaded by the end", "%d B" % code_all, ""),
    ]
    if img:
        rows.append(("image buffer (not counted above)", "%d B" % buf,
                     "%d B image read into the heap: the Unix port has no memory-mapped flash" % os.path.getsize(img)))
    if not a.no_bisect:
        rows.append(("smallest --heap that passes", "%sK" % min_k if min_k else "> 256K",
                     "budget %dK%s: %s" % (BUDGET_HEAP_K, " beyond the image" if img else "",
                                           "met" if min_k and min_k <= BUDGET_HEAP_K else "NOT met")))
    text = kit.table(("figure (Unix port, %s, %s)" % ("i686" if other else "x86-64", where), "value", "note"), rows)
    text += "\n\nScenario: boot, 2 EVSEs, a transaction on each, %d x each of the 11 trigger kinds, " \
            "both transactions ended, CSMS restarted and the station reconnected." % a.rounds
    if tried:
        text += "\nBisection: " + ", ".join("%dK %s" % (k, "ok" if v[0] else "fails") for k, v in sorted(tried.items()))
        fails = [(k, v[1]) for k, v in sorted(tried.items()) if not v[0]]
        if fails:
            text += "\nLargest failing size %dK: %s" % fails[-1]
    data = {"from": "mpy" if a.no_image else "image", "image_buffer": buf, "startup": start,
            "code_startup": code_start, "state_startup": state_start, "peak": peak,
            "peak_above_startup": peak - start, "code_all": code_all, "state_peak_above_startup": sp - state_start,
            "end": end, "min_heapsize_k": min_k, "rounds": a.rounds, "samples": len(samples),
            "modules_startup": start_mods, "modules_end": all_mods,
            "bisection": {str(k): v for k, v in sorted(tried.items())},
            "budget_peak_above_startup_met": peak - start <= BUDGET_PEAK,
            "budget_heap_met": bool(min_k and min_k <= BUDGET_HEAP_K)}
    name = "heap-mpy" if a.no_image else "heap"
    cmd = "make bench-heap" + (" ARGS=--no-image" if a.no_image else "")
    if other:  # figures of their own
        name = "heap-unix32"
        cmd = "STATION_MICROPYTHON=%s %s" % (os.path.relpath(other, ROOT), cmd)
    kit.save(name, "Heap (whole station, Unix port, %s)" % where, text, data, cmd)


if __name__ == "__main__":
    main()
