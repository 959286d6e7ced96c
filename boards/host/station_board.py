# Host board: binds the hardware adapters (firmware/station/hw/__init__.py) for the MicroPython Unix port.
#
# UART: a pseudo-terminal. boards/host/sim/meters.py (pymodbus meters) holds the other end; cfg["uart"] is the
#   pty slave path it prints. Opened raw with VMIN=0/VTIME=0 so readinto() returns at once with what
#   has arrived (the Modbus master polls; it never blocks the event loop).
# Inputs: the bench drives them through a JSON file, cfg["pins"] (default <dir>/pins.json):
#   {"1": {"plug": 1, "charging": 0, "fault": 0}, "2": {...}}   (EVSE id -> input -> 0/1, 1 = active)
#   The bench replaces it atomically (write temp, rename): boards/host/sim/pins.py set_input(dir, evse, name, v).
#   A missing file or entry reads 0. The firmware re-reads it at most every 10 ms, when inputs poll.
# Storage: cfg["dir"] (the station's flash).
# Watchdog: with cfg["wdt"] (a file path; tools/sim.py sets it) each feed() rewrites that file, and the simulator
#   resets the firmware (kills it, boots it with reason Watchdog) when the file is older than the timeout, as
#   the ESP32's hardware watchdog resets a board whose event loop hangs. Without it: none (wdt is None).
# Clock: the host's; with cfg["clock_start"] (Unix seconds) an RTC that starts at that instant at every
#   boot, as an ESP32's restarts at 2000-01-01 after a power loss (tools/sim.py --clock-start).
#
# cfg (dict, e.g. from JSON that tools/sim.py writes):
#   dir          storage root (required)
#   uart         pty path of the meter bus, or absent for no meters
#   baud         bus baud, default 9600
#   meters       {"<evse>": ["SDM630", <unit id>], ...}
#   evses        [1, 2, ...] EVSE ids with connector inputs (default: the meter EVSEs, else [1])
#   pins         bench input file (default <dir>/pins.json)
#   reset_cause  what BootNotification should say, default "PowerUp"
#   clock_start  Unix seconds the RTC shows at boot (default: the host clock)
#   slots        the image slots' directory (station_slots.py); main.py, the boot stage, hands make() the
#                Slots it booted from, which the station confirms (board.slots.confirm())
import json
import time

import termios

_NAMES = ("plug", "charging", "fault")


class PtyUart:
    def __init__(self, path):
        self._f = open(path, "r+b")
        fd = self._f.fileno()
        termios.setraw(fd)
        a = termios.tcgetattr(fd)
        a[6][6] = 0  # VMIN: reads return with whatever has arrived, even nothing
        a[6][5] = 0  # VTIME
        termios.tcsetattr(fd, termios.TCSANOW, a)

    def write(self, buf):
        return self._f.write(buf)

    def readinto(self, buf):
        return self._f.readinto(buf)

    def txdone(self):
        return True  # a pty has no shift register: written means sent

    def close(self):
        self._f.close()


class BenchFile:
    """The bench's input file, parsed at most every 10 ms however many pins ask."""

    def __init__(self, path):
        self.path = path
        self._data = {}
        self._t = None

    def get(self, evse, name):
        now = time.ticks_ms()
        if self._t is None or time.ticks_diff(now, self._t) >= 10:
            self._t = now
            try:
                with open(self.path) as f:
                    self._data = json.load(f)
            except (OSError, ValueError):
                self._data = {}  # no file yet (all inputs off); a torn read cannot happen with rename
        e = self._data.get(str(evse))
        return 1 if e and e.get(name) else 0


class BenchPin:
    def __init__(self, src, evse, name):
        self._src = src
        self._evse = evse
        self._name = name

    def value(self):
        return self._src.get(self._evse, self._name)


class FileWdt:
    """A watchdog the simulator watches: feed() rewrites the file (at most every 200 ms)."""

    def __init__(self, path, timeout_ms):
        self._path = path
        self._timeout = timeout_ms
        self._t = None
        self.feed()

    def feed(self):
        now = time.ticks_ms()
        if self._t is None or time.ticks_diff(now, self._t) >= 200:
            self._t = now
            with open(self._path, "w") as f:
                f.write(str(self._timeout))


class SimRtc:
    """An RTC that counts from a given instant (port-epoch seconds: Unix on this port); set() moves it."""

    def __init__(self, start):
        self._base = start - int(time.time())

    def now(self):
        return int(time.time()) + self._base

    def set(self, t):
        self._base = int(t) - int(time.time())


class Board:
    name = "host"

    def __init__(self):
        self.uart = None  # meter bus UART adapter, or None without meters
        self.de = None  # RS485 driver-enable pin: a pty needs none
        self.baud = 9600
        self.meters = {}  # evse id -> (model, unit id)
        self.inputs = {}  # evse id -> (plug, charging, fault) pins with value()
        self.root = "/"  # storage root directory
        self.reset_cause = "PowerUp"  # BootNotification reason for this start
        self.wdt = None  # watchdog factory wdt(timeout_ms) -> object with feed(), or None
        self.rtc = None  # rtc() -> port-epoch seconds, or None for time.time()
        self.rtc_set = None  # rtc_set(seconds): the CSMS's time kept by the RTC, or None
        self.slots = None  # firmware image slots (station_slots.Slots: confirm(), writer()), or None

    def reset(self):
        # The board's reset: the program ends and the simulator (the "hardware") starts it again; the
        # station has written on flash why (its next BootNotification's reason).
        raise SystemExit(0)


def make(cfg, slots=None):
    b = Board()
    b.slots = slots
    b.root = cfg["dir"]
    b.baud = int(cfg.get("baud", 9600))
    b.reset_cause = cfg.get("reset_cause", "PowerUp")
    if cfg.get("clock_start") is not None:
        rtc = SimRtc(int(cfg["clock_start"]))
        b.rtc, b.rtc_set = rtc.now, rtc.set
    if cfg.get("wdt"):
        path = cfg["wdt"]
        b.wdt = lambda timeout_ms: FileWdt(path, timeout_ms)
    for k, v in (cfg.get("meters") or {}).items():
        b.meters[int(k)] = (v[0], int(v[1]))
    if cfg.get("uart"):
        b.uart = PtyUart(cfg["uart"])
    src = BenchFile(cfg.get("pins") or b.root.rstrip("/") + "/pins.json")
    for e in cfg.get("evses") or sorted(b.meters) or [1]:
        e = int(e)
        b.inputs[e] = tuple(BenchPin(src, e, n) for n in _NAMES)
    return b
