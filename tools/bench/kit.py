"""Shared bits of the benchmark and robustness tools (tools/bench/*.py, tools/robust/fuzz.py, tools/robust/faults.py):
percentiles, the station's heap log (boards/host/station_heapmon.py), and the results files in results/.

Every tool prints its table and writes results/<name>.json (figures) and results/<name>.md (the same table);
tools/bench/report.py joins the .md files into results/benchmarks.md.
"""

import datetime
import json
import os
import platform
import re
import time

from tools import ROOT

RESULTS = os.path.join(ROOT, "results")
HEAP_ENV = "STATION_HEAP_LOG_MS"  # boards/host/main.py turns on station_heapmon.py when set
_HEAP = re.compile(r" I heap: alloc (\d+) free (\d+) peak (\d+)")


def pct(values, p):
    """p-th percentile (nearest rank) of a list of numbers."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def heap_samples(lines, start=0):
    """[(alloc, free, peak)] from the station's log lines[start:] (boards/host/station_heapmon.py)."""
    out = []
    for ln in lines[start:]:
        m = _HEAP.search(ln)
        if m:
            out.append(tuple(int(x) for x in m.groups()))
    return out


def modules_loaded(lines):
    """The last module list heapmon logged."""
    for ln in reversed(lines):
        if " I heap: modules " in ln:
            return ln.split(" I heap: modules ", 1)[1].split()
    return []


def wait_heap_sample(station, after, timeout=10):
    """Wait for a heap sample logged after log line index `after`; returns (alloc, free, peak)."""
    end = time.time() + timeout
    while time.time() < end:
        s = heap_samples(station.lines, after)
        if s:
            return s[-1]
        time.sleep(0.05)
    raise TimeoutError("no heap sample in the station log (is %s set?)" % HEAP_ENV)


def table(header, rows):
    """A Markdown table (also readable on a terminal)."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(r) for r in cells[1:]])


def save(name, title, text, data, command):
    """Print text and write results/<name>.md and results/<name>.json."""
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = "%s, %s, Python %s" % (platform.machine(), platform.system(), platform.python_version())
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write("## %s\n\n`%s` — measured %s on %s\n\n%s\n" % (title, command, stamp, where, text))
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(dict(data, measured=stamp, machine=where, command=command), f, indent=1, sort_keys=True)
        f.write("\n")


def proc_cpu(pid):
    """CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """Direct child pids of a process (Linux)."""
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def firmware_pid(station, timeout=10):
    """The micropython process under a simctl.Station (tools/sim.py's child)."""
    end = time.time() + timeout
    while time.time() < end:
        for c in children(station.proc.pid):
            try:
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    if b"micropython" in f.read():
                        return c
            except OSError:
                pass
        time.sleep(0.05)
    raise TimeoutError("no micropython child of the simulator")


# requestedMessage -> (evse to ask for, given a round number; the CALL the station sends when Accepted)
KINDS = {
    "BootNotification": (lambda i: None, "BootNotification"),
    "Heartbeat": (lambda i: None, "Heartbeat"),
    "StatusNotification": (lambda i: {"id": i % 2 + 1, "connectorId": 1}, "StatusNotification"),
    "MeterValues": (lambda i: {"id": i % 2 + 1}, "MeterValues"),
    "TransactionEvent": (lambda i: {"id": i % 2 + 1}, "TransactionEvent"),
    "LogStatusNotification": (lambda i: None, "LogStatusNotification"),
    "FirmwareStatusNotification": (lambda i: None, "FirmwareStatusNotification"),
    "SignChargingStationCertificate": (lambda i: None, "SignCertificate"),
    "SignV2GCertificate": (lambda i: None, "SignCertificate"),
    "SignCombinedCertificate": (lambda i: None, "SignCertificate"),
    "PublishFirmwareStatusNotification": (lambda i: None, None),
}


def trigger(csms, sid, kind, i=0, timeout=10):
    """One TriggerMessage from the CSMS (tools/csms/dev.py) and, when Accepted, the CALL it asked for.

    Returns (status, response latency s, triggered-message latency s or None), both measured on the
    CSMS's own frame timestamps (taken in its event loop as frames go out and come in)."""
    evse_of, action = KINDS[kind]
    req = {"requestedMessage": kind}
    evse = evse_of(i)
    if evse is not None:
        req["evse"] = evse
    n = len(csms.log)
    res = csms.call(sid, "TriggerMessage", req, timeout=timeout)
    log = csms.log
    out = next(m for m in log[n:] if m.dir == "out" and m.action == "TriggerMessage")
    back = next(m for m in log[n:] if m.dir == "in" and m.type == 3 and m.id == out.id)
    if res["status"] != "Accepted" or action is None:
        return res["status"], back.t - out.t, None

    def seen(lg):
        return any(m.dir == "in" and m.action == action for m in lg[n:])

    csms.wait(seen, timeout)
    msg = next(m for m in csms.log[n:] if m.dir == "in" and m.action == action)
    return res["status"], back.t - out.t, msg.t - out.t
