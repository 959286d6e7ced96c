# ESP32-DevKitC board: binds the hardware adapters (firmware/station/hw/__init__.py) to machine.UART/Pin.
# Same shape as boards/host/station_board.py: make(cfg) -> Board. Pin numbers and bus settings: station_pins.py.
# cfg may override "baud", "meters" ({"<evse>": [model, unit]}) and "dir" (storage root).
import time

import machine

import station_pins as pins

# machine.reset_cause() -> BootNotification reason. A reset the CSMS asked for is a soft/hard reset
# here too; the station remembers that on flash and says RemoteReset itself.
_CAUSES = {
    machine.PWRON_RESET: "PowerUp",
    machine.WDT_RESET: "Watchdog",
    machine.HARD_RESET: "LocalReset",  # the EN button
    machine.SOFT_RESET: "ApplicationReset",
    machine.DEEPSLEEP_RESET: "PowerUp",
}


class _ActiveLow:
    # A contact to GND with pull-up reads 0 when closed; the logic wants 1 = active.
    def __init__(self, pin):
        self._pin = pin

    def value(self):
        return 1 - self._pin.value()


def _input(gpio):
    p = machine.Pin(gpio, machine.Pin.IN, machine.Pin.PULL_UP if pins.ACTIVE_LOW else machine.Pin.PULL_DOWN)
    return _ActiveLow(p) if pins.ACTIVE_LOW else p


def _wdt(timeout_ms):
    return machine.WDT(timeout=timeout_ms)  # cannot be stopped once started


def _rtc_set(t):
    # The CSMS's time into the RTC (port-epoch seconds): it survives a watchdog or soft reset, so such a
    # boot knows the time at once; only a power loss sends it back to 2000-01-01.
    g = time.gmtime(t)
    machine.RTC().datetime((g[0], g[1], g[2], g[6], g[3], g[4], g[5], 0))


class Board:
    name = "esp32_devkitc"

    def __init__(self):
        self.uart = None
        self.de = None
        self.baud = pins.BAUD
        self.meters = {}
        self.inputs = {}
        self.root = pins.STORAGE
        self.reset_cause = "Unknown"
        self.wdt = _wdt
        self.rtc = None  # time.time() reads the RTC
        self.rtc_set = _rtc_set
        self.slots = None  # station_slots.Slots (the OTA app partitions), from main.py

    def reset(self):
        machine.reset()  # the station has written on flash why (its next BootNotification's reason)


def make(cfg=None, slots=None):
    cfg = cfg or {}
    b = Board()
    b.slots = slots
    b.baud = int(cfg.get("baud", pins.BAUD))
    b.root = cfg.get("dir", pins.STORAGE)
    meters = cfg.get("meters")
    if meters:
        for k in meters:
            b.meters[int(k)] = (meters[k][0], int(meters[k][1]))
    else:
        b.meters = dict(pins.METERS)
    # timeout=0: readinto() returns at once with what has arrived; the Modbus master does the waiting.
    b.uart = machine.UART(
        pins.UART_ID,
        baudrate=b.baud,
        bits=8,
        parity=None,
        stop=1,
        tx=pins.UART_TX,
        rx=pins.UART_RX,
        rxbuf=pins.RXBUF,
        timeout=0,
        timeout_char=0,
    )
    b.de = machine.Pin(pins.RS485_DE, machine.Pin.OUT, value=0)
    for e in pins.INPUTS:
        b.inputs[e] = tuple(_input(g) for g in pins.INPUTS[e])
    b.reset_cause = _CAUSES.get(machine.reset_cause(), "Unknown")
    return b
