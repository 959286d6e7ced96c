"""All board and firmware code type-checks against micropython-esp32-stubs (mypy, tools/build/typecheck.py)."""

import subprocess
import sys

from mpharness import ROOT

from tools.build import typecheck


def test_firmware_and_boards_pass_mypy_against_the_esp32_stubs():
    rc, out = typecheck.run()
    assert rc == 0, out
    assert "boards/esp32_devkitc" in out and "boards/host" in out


def test_a_wrong_machine_call_is_caught(tmp_path):
    # what the check is for: a UART keyword the ESP32 port does not have, a misspelt Pin constant
    bad = tmp_path / "board.py"
    bad.write_text(
        "import machine\n"
        "u = machine.UART(2, baud=9600, tx=17, rx=16)\n"
        "p = machine.Pin(4, machine.Pin.OUTPUT)\n"
        "v = machine.UART(2, 9600)\n"
        "v.write(b'x', 1)\n"
    )
    shed = typecheck.build_typeshed()
    cmd = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--custom-typeshed-dir", shed, str(bad)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert 'Unexpected keyword argument "baud"' in p.stdout
    assert 'has no attribute "OUTPUT"' in p.stdout
    assert 'Too many arguments for "write"' in p.stdout
