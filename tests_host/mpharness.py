"""pytest plugin: run MicroPython-side unit tests under the Unix port.

Files named ``mpt_*.py`` (pytest's own collector ignores them, so CPython never
imports them) are scanned for ``def test_*`` / ``async def test_*``. Each test
function becomes one pytest item, run in a fresh ``micropython`` process with a
capped heap and a wall-clock timeout.

Caps, written in the MicroPython file itself:
  HEAP = "64K"            # module level: heap for every test in the file
  TIMEOUT = 20            # module level: seconds before the process is killed
  def test_x():  # heap: 16K     per-test heap override
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP_DIR = os.path.join(ROOT, "tests_host", "mp")
RUNNER = os.path.join(MP_DIR, "_run.py")
DEFAULT_HEAP = "64K"
DEFAULT_TIMEOUT = 20.0
PASS_MARK = "MPTEST-PASS"

_DEF = re.compile(r"^(?:async\s+)?def\s+(test_\w+)\s*\(.*?:\s*(?:#\s*heap:\s*(\w+))?", re.M)
_HEAP = re.compile(r"^HEAP\s*=\s*[\"'](\w+)[\"']", re.M)
_TIMEOUT = re.compile(r"^TIMEOUT\s*=\s*([0-9.]+)", re.M)


def micropython():
    """The Unix-port binary from the project's venv (falls back to PATH)."""
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


_MPY = []


def _mpy():
    # The firmware as the board runs it, bytecode compiled ahead (tools/build/mpy.py, only what changed):
    # a test's heap cap then measures the code and its data, not the compiler working on the sources.
    if not _MPY:
        from tools.build import mpy

        _MPY.extend(mpy.build("host"))
    return _MPY


def micropypath(extra=()):
    # .frozen keeps the port's frozen asyncio importable; firmware/ is the device's root. The .mpy build
    # comes first; the sources stay on the path for the board scripts and anything not compiled.
    parts = [".frozen"] + _mpy() + [os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "host"), MP_DIR]
    return ":".join(list(extra) + parts)


def run_mp(args, heap=DEFAULT_HEAP, timeout=DEFAULT_TIMEOUT, cwd=None, extra_path=(), path=None):
    """Run micropython with the project's import path (or exactly `path`); returns (rc, output); rc None on
    timeout."""
    env = dict(os.environ, MICROPYPATH=path or micropypath(extra_path))
    cmd = [micropython(), "-X", "heapsize=" + heap] + list(args)
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd or ROOT, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode("utf-8", "replace")
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


class MPFailure(Exception):
    pass


class MPFile(pytest.File):
    def collect(self):
        src = self.path.read_text()
        m = _HEAP.search(src)
        heap = m.group(1) if m else DEFAULT_HEAP
        m = _TIMEOUT.search(src)
        timeout = float(m.group(1)) if m else DEFAULT_TIMEOUT
        for name, own_heap in _DEF.findall(src):
            yield MPItem.from_parent(self, name=name, heap=own_heap or heap, timeout=timeout)


class MPItem(pytest.Item):
    def __init__(self, *, heap, timeout, **kw):
        super().__init__(**kw)
        self.heap = heap
        self.timeout = timeout

    def runtest(self):
        mod = self.path.stem
        rc, out = run_mp(
            [RUNNER, str(self.path.parent), mod, self.name], heap=self.heap, timeout=self.timeout
        )
        if rc is None:
            raise MPFailure("timed out after %gs (hang?) under heap %s\n%s" % (self.timeout, self.heap, out))
        if rc != 0 or PASS_MARK not in out:
            raise MPFailure("failed under micropython (heap %s, exit %s)\n%s" % (self.heap, rc, out))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MPFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "mp: %s [heap %s]" % (self.name, self.heap)


def _is_mp(path):
    return path.suffix == ".py" and path.name.startswith("mpt_")


def pytest_collect_file(parent, file_path):
    # A file named on the command line goes through the Python plugin instead (see below).
    if _is_mp(file_path) and not parent.session.isinitpath(file_path):
        return MPFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    # `pytest tests_host/mp/mpt_x.py` must not import a MicroPython file under CPython.
    if _is_mp(module_path):
        return MPFile.from_parent(parent, path=module_path)
    return None
