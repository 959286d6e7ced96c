"""Everything that goes onto a board must compile with mpy-cross and import under the Unix port (not a board's
CPython folders, e.g. boards/host/sim/, the simulator)."""

import os
import subprocess
import sys

import pytest
from mpharness import ROOT, run_mp

from tools.build.mpy import CPYTHON_DIRS


def _py_files(*tops):
    for top in tops:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x != "__pycache__" and not (d.startswith(os.path.join(ROOT, "boards"))
                                                                     and x in CPYTHON_DIRS)]
            for f in sorted(files):
                if f.endswith(".py") and f != "manifest.py":  # a freeze manifest runs in the build, not on the board
                    yield os.path.relpath(os.path.join(d, f), ROOT)


DEVICE_FILES = sorted(_py_files("firmware", "boards"))
FIRMWARE_MODULES = sorted(
    p[len("firmware/") : -3].replace("/", ".").removesuffix(".__init__")
    for p in DEVICE_FILES
    if p.startswith("firmware/")
)


def test_there_is_firmware():
    assert "station.log" in FIRMWARE_MODULES and "station.clock" in FIRMWARE_MODULES
    assert {m.split(".")[0] for m in FIRMWARE_MODULES} == {"station"}  # one namespace: nothing shadows a stdlib


@pytest.mark.parametrize("path", DEVICE_FILES)
def test_compiles_with_mpy_cross(path, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    out = tmp_path / "out.mpy"
    p = subprocess.run([exe, "-march=xtensawin", "-o", str(out), path], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("module", FIRMWARE_MODULES)
def test_imports_under_unix_port(module):
    rc, out = run_mp(["-c", "import %s; print('IMPORTED')" % module], heap="256K", timeout=20)
    assert rc == 0 and "IMPORTED" in out, out
