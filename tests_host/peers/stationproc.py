"""Run tests_host/peers/station_conn.py (rpc + conn + outbox, no handlers) under the Unix port as a subprocess:
for the TLS handshake tests only (a client certificate). Station behaviour is tested on tools/sim.py."""

import json
import os
import subprocess
import tempfile
import time

from mpharness import ROOT, micropypath, micropython

SCRIPT = os.path.join(ROOT, "tests_host", "peers", "station_conn.py")
FAST = {  # reconnect fast in tests
    "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
    "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
    "OCPPCommCtrlr.RetryBackOffRepeatTimes": 1,
}


class Station:
    def __init__(self, url, sid="CS1", dm=None, heap="512K", **cfg):
        self.cfg = dict(cfg, url=url, id=sid, dm=dict(FAST, **(dm or {})))
        self.id = sid
        self.heap = heap
        self.p = None
        self._out = tempfile.NamedTemporaryFile(prefix="station-", suffix=".log", delete=False)
        self._cfg = tempfile.NamedTemporaryFile("w", prefix="station-", suffix=".json", delete=False)

    def start(self):
        env = dict(os.environ, MICROPYPATH=micropypath())
        # The config goes in a file: the Unix port aborts ("uncaught NLR") on an argv item of 256+ chars.
        with open(self._cfg.name, "w") as f:
            json.dump(self.cfg, f)
        self.p = subprocess.Popen([micropython(), "-X", "heapsize=" + self.heap, SCRIPT, self._cfg.name],
                                  cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT)
        return self

    def output(self):
        with open(self._out.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10):
        end = time.time() + timeout
        while text not in self.output():
            if time.time() > end:
                raise TimeoutError("%r not in station log:\n%s" % (text, self.output()))
            if self.p.poll() is not None:
                raise AssertionError("station exited (%s):\n%s" % (self.p.returncode, self.output()))
            time.sleep(0.02)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)
        os.unlink(self._out.name)
        os.unlink(self._cfg.name)

    def assert_clean(self):
        """Alive, and no error line or traceback in its log."""
        out = self.output()
        assert self.p.poll() is None, "station died:\n" + out
        bad = [ln for ln in out.splitlines() if " E " in ln or "Traceback" in ln]
        assert not bad, out

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
