"""Drive the simulator from CPython: start the simulated station (simulator.py, whose command line tools/sim.py
is) as a subprocess, send control-port commands, read its log. Used by the demo, the benchmarks, the robustness
runs and the end-to-end tests."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from tools import ROOT

SIMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simulator.py")
# An error line of firmware/station/log.py ("<seconds>.<ms> E <tag>: ...") or a traceback: never expected behaviour.
BAD_LINE = re.compile(r"^\d+\.\d{3} E |^Traceback")


class Station:
    """simulator.py in a subprocess: the firmware under the Unix port with pymodbus meters."""

    def __init__(self, csms_url, station_id="CS1", evses=1, meter="sdm630", state=None, heap="256K",
                 extra=(), echo=False, dm=None, reset_cause=None, clock_start=None, password=None):
        # echo: also print the station's log lines as they come (the demo does)
        # dm: {"Component.Variable[.Instance]": value} (--dm of tools/sim.py, the value given as JSON);
        # reset_cause: the first boot's reason (--reset-cause); clock_start: ISO 8601 (--clock-start);
        # password: HTTP Basic (--password); extra: any other tools/sim.py arguments
        self.id = station_id
        cmd = [sys.executable, SIMULATOR, "--csms", csms_url, "--id", station_id,
               "--evses", str(evses), "--meter", meter, "--control", "0", "--heap", heap]
        for k, v in (dm or {}).items():
            cmd += ["--dm", "%s=%s" % (k, json.dumps(v))]
        if reset_cause:
            cmd += ["--reset-cause", reset_cause]
        if clock_start:
            cmd += ["--clock-start", clock_start]
        if password is not None:
            cmd += ["--password", password]
        cmd += list(extra)
        if state:
            cmd += ["--state", str(state)]
        self.lines = []
        self._echo = echo
        self._cond = threading.Condition()
        # errors="replace": a log line may quote bytes the station received that are not UTF-8 (fuzzing)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", cwd=ROOT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_log("sim: control port", timeout=20)
        port = int(line.split("control port ")[1].split(",")[0])
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self._f = self._sock.makefile("rw")

    def _read(self):
        for line in self.proc.stdout:
            if self._echo:
                print("    station| " + line.rstrip("\n"), flush=True)
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_log(self, text, timeout=15, since=0):
        """The first log line containing text (or matching it, a compiled re), from line number since on
        (see mark()); waits for it."""
        found = text.search if isinstance(text, re.Pattern) else (lambda ln: text in ln)
        end = time.time() + timeout
        with self._cond:
            while True:
                for ln in self.lines[since:]:
                    if found(ln):
                        return ln
                if self.proc.poll() is not None or time.time() > end:
                    raise TimeoutError("%r not in station log:\n%s" % (text, "\n".join(self.lines[-40:])))
                self._cond.wait(0.2)

    def cmd(self, **req):
        self._f.write(json.dumps(req) + "\n")
        self._f.flush()
        ans = json.loads(self._f.readline())
        assert ans["ok"], ans
        return ans

    def mark(self):
        """The number of log lines so far: wait_log(..., since=st.mark()) finds only newer lines."""
        with self._cond:
            return len(self.lines)

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def problems(self):
        """Error lines and tracebacks in the station log: bugs, never expected behaviour."""
        out = []
        for i, ln in enumerate(self.lines):
            if BAD_LINE.match(ln):
                out.append("\n".join(self.lines[i:i + 12]) if ln.startswith("Traceback") else ln)
        return out

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._sock.close()

    def assert_clean(self):
        """Running, and no error line or traceback in its log."""
        assert self.alive(), "the simulator exited (%s):\n%s" % (self.proc.returncode, "\n".join(self.lines[-40:]))
        assert not self.problems(), "\n".join(self.problems())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def payloads(csms, action, station=None):
    return [m.payload for m in csms.messages(action, station=station)]


def trigger(csms, station, kind, evse=None):
    """Send TriggerMessage; returns (response payload, log index of that response)."""
    req = {"requestedMessage": kind}
    if evse is not None:
        req["evse"] = evse
    n = len(csms.log)
    res = csms.call(station, "TriggerMessage", req)
    out = [m for m in csms.log[n:] if m.dir == "out" and m.action == "TriggerMessage"][0]
    i = next(i for i, m in enumerate(csms.log) if m.dir == "in" and m.type == 3 and m.id == out.id)
    return res, i


def sent_after(csms, index, action, count=1, timeout=10):
    """The first `count` CALLs of action the station sent after log position index (waits for them)."""
    csms.wait(lambda log: len([m for m in log[index:] if m.dir == "in" and m.action == action]) >= count,
              timeout)
    return [m for m in csms.log[index:] if m.dir == "in" and m.action == action][:count]


def marker(csms, station, kind="Heartbeat", evse=None, action=None, timeout=10):
    """Trigger kind (it must be Accepted) and wait for the CALL it makes (action, default kind; SignCertificate
    for the certificate kinds); returns the log index of that CALL.

    The station's outbox sends its queue in order, one CALL at a time, and a triggered message is queued only
    once the TriggerMessageResponse is on the wire: whatever the station queued before it answered the marker's
    TriggerMessage is in the log before the marker's CALL. Transactions' events (TransactionEvent, from the
    on-flash queue) go after the RAM queue, so a Heartbeat marker does not fence them; the certificate
    kinds queue their SignCertificate only once the CSR is built (a marker of the same kind fences those)."""
    res, i = trigger(csms, station, kind, evse)
    assert res["status"] == "Accepted", ("marker not accepted", kind, res)
    if action is None:
        action = "SignCertificate" if kind.startswith("Sign") else kind
    return csms.log.index(sent_after(csms, i, action, timeout=timeout)[0])


def between(csms, start, end, action=None):
    """The CALLs the station sent between log positions start and end (optionally of one action)."""
    return [m for m in csms.log[start:end] if m.dir == "in" and m.type == 2 and (action is None or m.action == action)]


def none_before_marker(csms, station, index, action, **marker_kw):
    """True if the station sent no CALL of action between log position index (e.g. a Rejected trigger's
    response) and a marker (see marker(): by default a triggered Heartbeat) sent afterwards. Order, not time:
    no wait that a loaded machine could outlast."""
    end = marker(csms, station, **marker_kw)
    return not between(csms, index, end, action)


def set_vars(csms, station, **kv):
    """SetVariables through the CSMS; keyword Component__Variable=value. Returns the attributeStatus list."""
    data = []
    for k, v in kv.items():
        comp, var = k.split("__")
        data.append({"component": {"name": comp}, "variable": {"name": var}, "attributeValue": str(v)})
    res = csms.call(station, "SetVariables", {"setVariableData": data})
    return [r["attributeStatus"] for r in res["setVariableResult"]]
