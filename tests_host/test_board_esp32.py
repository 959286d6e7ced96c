"""The ESP32-DevKitC board file on the host: the same binding code, with a stand-in `machine` module.

The stand-in accepts exactly the keyword arguments of the ESP32 port's machine.UART/Pin/WDT (a wrong
call fails here as it would on the board; mypy checks the same against the stubs), and its UART
talks to the pymodbus meter over a pty with a simulated shift register, so the RS485 driver-enable
sequence of the real Modbus master is observable.
"""

import json
import os

import pytest
from mpharness import ROOT, run_mp

from boards.host.sim.meters import MeterSim

FAKE_MACHINE = r'''
import time, termios
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
CAUSE = PWRON_RESET
LOG = []
PTY = None


def reset_cause():
    return CAUSE


class Pin:
    IN = 1
    OUT = 3
    PULL_DOWN = 1
    PULL_UP = 2
    all = {}

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        assert isinstance(id, int) and 0 <= id <= 39 and not 6 <= id <= 11, "no such GPIO %r" % id
        assert mode in (-1, Pin.IN, Pin.OUT)
        if pull in (Pin.PULL_UP, Pin.PULL_DOWN):
            assert id < 34, "GPIO%d has no pull resistors" % id
        self.id, self.mode, self.pull = id, mode, pull
        self.level = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self.level = value
        Pin.all[id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        assert self.mode == Pin.OUT
        self.level = v
        LOG.append(("pin", self.id, v))


class UART:
    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, *, tx=None, rx=None, txbuf=None,
                 rxbuf=None, timeout=None, timeout_char=None, invert=None, flow=None, rts=None, cts=None):
        assert id in (0, 1, 2)
        assert rxbuf is None or rxbuf > 128
        self.cfg = (id, baudrate, bits, parity, stop, tx, rx, rxbuf, timeout)
        self._busy = time.ticks_ms()
        self._f = None
        if PTY:
            self._f = open(PTY, "r+b")
            termios.setraw(self._f.fileno())
            a = termios.tcgetattr(self._f.fileno())
            a[6][6] = 0
            a[6][5] = 0
            termios.tcsetattr(self._f.fileno(), termios.TCSANOW, a)
        self.baud = baudrate

    def write(self, buf):
        # the bytes leave the shift register over len * 10 bits at the baud rate
        self._busy = time.ticks_add(time.ticks_ms(), (len(buf) * 10000 + self.baud - 1) // self.baud)
        LOG.append(("write", len(buf)))
        return self._f.write(buf) if self._f else len(buf)

    def txdone(self):
        done = time.ticks_diff(time.ticks_ms(), self._busy) >= 0
        if done and LOG and LOG[-1][0] == "write":
            LOG.append(("txdone",))
        return done

    def readinto(self, buf):
        n = self._f.readinto(buf) if self._f else 0
        return n or None  # the ESP32 port answers None when nothing arrived


class WDT:
    def __init__(self, *, id=0, timeout=5000):
        assert timeout >= 1000
        self.timeout = timeout

    def feed(self):
        pass
'''

SCRIPT = r"""
import asyncio, json, time
import machine
a = json.loads(%r)
machine.PTY = a.get("pty")
machine.CAUSE = a.get("cause", 1)
import station_board as board, station_pins as pins
b = board.make(a.get("cfg"))
print("UART", json.dumps(b.uart.cfg))
print("DE", b.de.id, b.de.mode, b.de.level)
print("CAUSE", b.reset_cause)
print("WDT", b.wdt(8000).timeout)
print("METERS", json.dumps(b.meters))
print("ROOT", b.root)
# inputs: contacts to GND with pull-ups; a closed contact (level 0) must read as active (1)
for e in sorted(b.inputs):
    print("IN", e, [p.value() for p in b.inputs[e]])
    machine.Pin.all[pins.INPUTS[e][0]].level = 0
    print("IN", e, [p.value() for p in b.inputs[e]])
if a.get("pty"):
    from station.hw import meters, modbus
    m = modbus.Master(b.uart, b.baud, b.de, timeout_ms=200)
    async def main():
        t0 = time.ticks_ms()
        r = await meters.read(m, "SDM630", 1)
        sv = meters.sampled("SDM630", r, ("Power.Active.Import",))
        print("READ", time.ticks_diff(time.ticks_ms(), t0), json.dumps(sv))
    asyncio.run(main())
    print("LOG", json.dumps(machine.LOG))
"""


def run(tmp_path, **a):
    (tmp_path / "machine.py").write_text(FAKE_MACHINE)
    extra = [str(tmp_path), os.path.join(ROOT, "boards", "esp32_devkitc")]
    # 128K: this script compiles board, pins, the stand-in machine and hw from source (frozen on the board)
    rc, out = run_mp(["-c", SCRIPT % json.dumps(a)], heap="128K", extra_path=extra, timeout=30)
    assert rc == 0, out
    return {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in out.splitlines() if " " in ln}, out


def test_pin_map_uart_settings_and_inputs(tmp_path):
    r, out = run(tmp_path)
    assert json.loads(r["UART"]) == [2, 9600, 8, None, 1, 17, 16, 512, 0]
    assert r["DE"] == "4 3 0"  # output, bus released at start
    assert r["WDT"] == "8000"
    assert json.loads(r["METERS"]) == {"1": ["SDM630", 1], "2": ["SDM630", 2]}
    assert r["ROOT"] == "/data"
    ins = [ln for ln in out.splitlines() if ln.startswith("IN ")]
    assert ins == ["IN 1 [0, 0, 0]", "IN 1 [1, 0, 0]", "IN 2 [0, 0, 0]", "IN 2 [1, 0, 0]"]


@pytest.mark.parametrize(
    "cause,reason",
    [(1, "PowerUp"), (2, "LocalReset"), (3, "Watchdog"), (4, "PowerUp"), (5, "ApplicationReset"), (99, "Unknown")],
)
def test_reset_cause_becomes_boot_reason(tmp_path, cause, reason):
    r, out = run(tmp_path, cause=cause)
    assert r["CAUSE"] == reason


def test_config_overrides_meters_baud_and_storage(tmp_path):
    r, out = run(tmp_path, cfg={"baud": 19200, "meters": {"1": ["EM340", 5]}, "dir": "/flash"})
    assert json.loads(r["UART"])[1] == 19200
    assert json.loads(r["METERS"]) == {"1": ["EM340", 5]}
    assert r["ROOT"] == "/flash"


def test_meter_read_through_the_board_uart_drives_rs485_enable_around_the_frame(tmp_path):
    sim = MeterSim({1: "SDM630"})
    path = sim.start()
    try:
        sim.set_power(1, 11000)
        r, out = run(tmp_path, pty=path)
    finally:
        sim.stop()
    svs = json.loads(r["READ"].split(" ", 1)[1])
    assert {"value": 11000.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}} in svs
    log = [tuple(x) for x in json.loads(r["LOG"])]
    # per request: driver on, frame written, last byte out, driver off -- never off before txdone
    one = [("pin", 4, 1), ("write", 8), ("txdone",), ("pin", 4, 0)]
    assert log == [("pin", 4, 0)] + one + one, log
