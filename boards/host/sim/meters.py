"""Energy meters on a simulated RS485 bus: pymodbus RTU server(s) behind a pseudo-terminal.

The station opens the pty slave path as its UART (boards/host). Bytes go through a small relay:

    station --pty--> relay --TCP (RTU framing)--> pymodbus ModbusTcpServer (SimDevice per unit)

The relay behaves like the bus: requests for unit ids nobody has, or with a bad CRC, get no answer;
``set_silent(True)`` unplugs every meter. ``set_bad_crc(True)`` corrupts answers in pymodbus's
trace_packet hook; ``set_override(unit, "P", float("inf"))`` makes one meter serve a fixed (even non-finite)
value for one quantity. Register values are computed at request time in the SimDevice ``action``
callback from the simulated state (power, energy integrated over time), which is the pymodbus 3.16
way of changing served values (the old ModbusServerContext API silently ignores such writes).

Library use (from a test or the simulator, boards/host/sim/simulator.py):

    from boards.host.sim.meters import MeterSim
    sim = MeterSim({1: "SDM630", 2: "EM340"})
    path = sim.start()            # background thread; or: path = await sim.astart() in your loop
    sim.set_power(1, 7400)        # W drawn by the EV on unit 1
    ...
    sim.stop()

Standalone: ``python boards/host/sim/meters.py SDM630:1 EM340:2 --power 1=7400`` prints the pty path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import struct
import threading
import time
import tty

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # the bad-CRC tests make it complain on purpose

# Register maps, written from the vendors' tables independently of firmware/station/hw/meters.py so the two
# can check each other: quantity -> (address, encoding, resolution). Quantities: V1..V3, I1..I3,
# P1..P3 (W), P (total W), F (Hz), E (import kWh). Encodings: f32 (float32, high word first),
# u16, s16, u32, s32 (high word first), s32l (low word first), u64.
MAPS = {
    "SDM630": {
        "fc": 4, "ranges": [(0x0000, 0x50)],
        "V1": (0x00, "f32", 1), "V2": (0x02, "f32", 1), "V3": (0x04, "f32", 1),
        "I1": (0x06, "f32", 1), "I2": (0x08, "f32", 1), "I3": (0x0A, "f32", 1),
        "P1": (0x0C, "f32", 1), "P2": (0x0E, "f32", 1), "P3": (0x10, "f32", 1),
        "P": (0x34, "f32", 1), "F": (0x46, "f32", 1), "E": (0x48, "f32", 1),
    },
    "SDM120": {
        "fc": 4, "ranges": [(0x0000, 0x50)],
        "V1": (0x00, "f32", 1), "I1": (0x06, "f32", 1), "P1": (0x0C, "f32", 1),
        "F": (0x46, "f32", 1), "E": (0x48, "f32", 1),
    },
    "B23": {
        "fc": 3, "ranges": [(0x5000, 0x10), (0x5B00, 0x30)],
        "V1": (0x5B00, "u32", 0.1), "V2": (0x5B02, "u32", 0.1), "V3": (0x5B04, "u32", 0.1),
        "I1": (0x5B0C, "u32", 0.01), "I2": (0x5B0E, "u32", 0.01), "I3": (0x5B10, "u32", 0.01),
        "P": (0x5B14, "s32", 0.01),
        "P1": (0x5B16, "s32", 0.01), "P2": (0x5B18, "s32", 0.01), "P3": (0x5B1A, "s32", 0.01),
        "F": (0x5B2C, "u16", 0.01), "E": (0x5000, "u64", 0.01),
    },
    "EM340": {
        "fc": 4, "ranges": [(0x0000, 0x40)],
        "V1": (0x00, "s32l", 0.1), "V2": (0x02, "s32l", 0.1), "V3": (0x04, "s32l", 0.1),
        "I1": (0x0C, "s32l", 0.001), "I2": (0x0E, "s32l", 0.001), "I3": (0x10, "s32l", 0.001),
        "P1": (0x12, "s32l", 0.1), "P2": (0x14, "s32l", 0.1), "P3": (0x16, "s32l", 0.1),
        "P": (0x28, "s32l", 0.1), "F": (0x33, "s16", 0.1), "E": (0x34, "s32l", 0.1),
    },
}
PHASES = {"SDM630": 3, "SDM120": 1, "B23": 3, "EM340": 3}
VOLTS = (230.1, 229.8, 230.4)  # plausible, slightly unbalanced mains
HZ = 50.0


def encode(enc, value, res):
    """Register words for one value."""
    if enc == "f32":
        return list(struct.unpack(">HH", struct.pack(">f", value)))
    raw = int(round(value / res))
    if enc == "u16":
        return [raw & 0xFFFF]
    if enc == "s16":
        return [raw & 0xFFFF]
    if enc in ("u32", "s32"):
        raw &= 0xFFFFFFFF
        return [raw >> 16, raw & 0xFFFF]
    if enc == "s32l":
        raw &= 0xFFFFFFFF
        return [raw & 0xFFFF, raw >> 16]
    if enc == "u64":
        return [(raw >> s) & 0xFFFF for s in (48, 32, 16, 0)]
    raise ValueError(enc)


def _crc(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


class Meter:
    """State of one simulated meter: power set by the test, energy integrated from it."""

    def __init__(self, model, energy_wh=0.0):
        if model not in MAPS:
            raise ValueError("unknown model %s" % model)
        self.model = model
        self.power = 0.0
        self.energy_wh = float(energy_wh)
        self.exception = None  # ExcCodes member: answer every read with it
        self.unplugged = False  # this meter alone is off the bus: no answer
        self.overrides = {}  # quantity -> value served instead of the simulated one (set_override)
        self._t = time.monotonic()

    def integrate(self):
        now = time.monotonic()
        self.energy_wh += self.power * (now - self._t) / 3600.0
        self._t = now

    def quantities(self):
        self.integrate()
        n = PHASES[self.model]
        q = {"P": self.power, "F": HZ, "E": self.energy_wh / 1000.0}
        for i in range(n):
            v = VOLTS[i]
            p = self.power / n
            q["V%d" % (i + 1)] = v
            q["P%d" % (i + 1)] = p
            q["I%d" % (i + 1)] = p / v
        return q

    def expected(self):
        """What the station should report (measurand, phase) -> value, for tests."""
        q = self.quantities()
        out = {("Energy.Active.Import.Register", None): q["E"] * 1000.0, ("Power.Active.Import", None): q["P"],
               ("Frequency", None): q["F"]}
        for i in range(1, PHASES[self.model] + 1):
            out[("Voltage", "L%d-N" % i)] = q["V%d" % i]
            out[("Current.Import", "L%d" % i)] = q["I%d" % i]
            if PHASES[self.model] > 1:
                out[("Power.Active.Import", "L%d" % i)] = q["P%d" % i]
        return out


class MeterSim:
    def __init__(self, meters, energy_wh=None):
        # meters: {unit id: model name}; energy_wh: optional {unit: starting register value in Wh}
        self.meters = {int(u): Meter(m, (energy_wh or {}).get(u, 0.0)) for u, m in meters.items()}
        self.silent = False
        self.bad_crc = False
        self.requests = 0  # requests that reached a meter
        self.bytes_in = 0  # bytes the station put on the wire
        self.bytes_out = 0  # bytes the meters put on the wire
        self.path = None
        self._loop = None
        self._thread = None
        self._server = None
        self._tasks = []
        self._master = self._slave = None
        self._writer = None
        self._buf = b""

    # -- control (thread-safe enough: plain attribute writes read by the loop) --
    def set_power(self, unit, watts):
        m = self.meters[unit]
        m.integrate()
        m.power = float(watts)

    def set_energy(self, unit, wh):
        m = self.meters[unit]
        m.integrate()
        m.energy_wh = float(wh)

    def energy_wh(self, unit):
        m = self.meters[unit]
        m.integrate()
        return m.energy_wh

    def set_silent(self, on, unit=None):
        """Meter(s) unplugged: requests get no answer at all (every meter, or only this unit's)."""
        if unit is None:
            self.silent = bool(on)
        else:
            self.meters[unit].unplugged = bool(on)

    def set_bad_crc(self, on):
        """Answers arrive with a corrupted CRC."""
        self.bad_crc = bool(on)

    def set_exception(self, unit, code):
        """Answer every read of this unit with exception code (int, e.g. 4) or None for normal answers."""
        self.meters[unit].exception = None if code is None else ExcCodes(code)

    def set_override(self, unit, quantity, value):
        """Serve value for one quantity (e.g. "P", "E" in kWh) instead of the simulated one; None ends it.

        For the faulty meters a test needs: a float32 register may hold float("inf") or float("nan").
        """
        m = self.meters[unit]
        spec = MAPS[m.model]
        if quantity not in spec or quantity in ("fc", "ranges"):
            raise ValueError("%s has no quantity %s" % (m.model, quantity))
        if value is None:
            m.overrides.pop(quantity, None)
            return
        value = float(value)
        if spec[quantity][1] != "f32" and not math.isfinite(value):
            raise ValueError("an integer register cannot hold %r" % value)
        m.overrides[quantity] = value

    # -- pymodbus side --
    def _device(self, unit, meter):
        spec = MAPS[meter.model]
        data = [SimData(a, count=n, values=0, datatype=DataType.REGISTERS) for a, n in spec["ranges"]]

        async def action(fc, start, address, count, regs, set_values):
            if meter.exception is not None:
                return meter.exception
            if set_values is not None or fc != spec["fc"]:
                return ExcCodes.ILLEGAL_FUNCTION
            self.requests += 1
            served = meter.quantities()
            served.update(meter.overrides)
            for name, value in served.items():
                if name not in spec:  # e.g. SDM120: total power is the L1 register
                    continue
                addr, enc, res = spec[name]
                words = encode(enc, value, res)
                regs[addr - start : addr - start + len(words)] = words
            return None

        return SimDevice(unit, simdata=data, action=action)

    def _trace_packet(self, sending, data):
        if sending and self.bad_crc and len(data) > 2:
            data = data[:-1] + bytes([data[-1] ^ 0x5A])
        return data

    def _from_station(self):
        try:
            chunk = os.read(self._master, 512)
        except OSError:
            return
        self.bytes_in += len(chunk)
        self._buf += chunk
        # Requests the station sends are 8-byte 0x03/0x04 frames; anything else is resynchronised
        # by dropping a byte, as a real device would ignore a frame it cannot parse.
        while len(self._buf) >= 8:
            frame, rest = self._buf[:8], self._buf[8:]
            crc = _crc(frame[:6])
            if frame[6] != crc & 0xFF or frame[7] != crc >> 8:
                self._buf = self._buf[1:]
                continue
            self._buf = rest
            if self.silent or frame[0] not in self.meters or self.meters[frame[0]].unplugged:
                continue
            self._writer.write(frame)

    async def _to_station(self, reader):
        while True:
            data = await reader.read(512)
            if not data:
                return
            if self.silent:
                continue
            self.bytes_out += len(data)
            os.write(self._master, data)

    async def astart(self):
        """Start in the running loop; returns the pty path the station opens as its UART."""
        self._loop = asyncio.get_running_loop()
        devices = [self._device(u, m) for u, m in sorted(self.meters.items())]
        self._server = ModbusTcpServer(
            devices, framer=FramerType.RTU, address=("127.0.0.1", 0), trace_packet=self._trace_packet
        )
        await self._server.serve_forever(background=True)
        port = self._server.transport.sockets[0].getsockname()[1]
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline; we keep it open so the pty never hangs up
        self.path = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        self._loop.add_reader(self._master, self._from_station)
        self._tasks.append(asyncio.create_task(self._to_station(reader)))
        return self.path

    async def astop(self):
        if self._loop is None:
            return
        self._loop.remove_reader(self._master)
        for t in self._tasks:
            t.cancel()
        self._writer.close()
        await self._server.shutdown()
        os.close(self._master)
        os.close(self._slave)
        self._loop = None

    def start(self):
        """Run in a background thread with its own loop; returns the pty path."""
        ready = threading.Event()
        box = {}

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                box["path"] = loop.run_until_complete(self.astart())
            except BaseException as e:  # noqa: BLE001 - handed to the caller below
                box["err"] = e
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.astop())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        if "err" in box:
            raise box["err"]
        return box["path"]

    def stop(self):
        if self._thread and self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("meters", nargs="+", help="MODEL:UNIT, e.g. SDM630:1 (models: %s)" % ", ".join(MAPS))
    ap.add_argument("--power", action="append", default=[], help="UNIT=WATTS drawn")
    ap.add_argument("--link", help="also make this path a symlink to the pty")
    a = ap.parse_args()
    meters = {}
    for m in a.meters:
        model, unit = m.split(":")
        meters[int(unit)] = model
    sim = MeterSim(meters)

    async def run():
        path = await sim.astart()
        for p in a.power:
            u, w = p.split("=")
            sim.set_power(int(u), float(w))
        if a.link:
            if os.path.lexists(a.link):
                os.unlink(a.link)
            os.symlink(path, a.link)
        print(path, flush=True)
        while True:
            await asyncio.sleep(3600)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
