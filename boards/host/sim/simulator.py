"""Host simulator: one charging station (the real firmware under the MicroPython Unix port) on a test bench.

    .venv/bin/python tools/sim.py --csms ws://HOST:PORT/PATH --id STATION_ID [--evses N]
        [--meter sdm630|sdm120|abb_b23|em340] [--state DIR] [--control PORT] [--password PW]
        [--ca FILE] [--client-cert FILE --client-key FILE] [--heap SIZE] [--serial SN] [--org NAME]
        [--dm KEY=VALUE ...] [--reset-cause CAUSE]
        [--clock-start ISO8601] [--image PATH | --version V | --no-image]

It starts the meter simulator (pymodbus, one meter per EVSE on a pseudo-terminal RS485 bus), then the
firmware with the host board, and logs to stdout. The control port (127.0.0.1) takes one JSON object per
line and answers one per line, {"ok": true, ...} or {"ok": false, "error": "..."}:

    {"cmd":"plug","evse":1}            {"cmd":"unplug","evse":1}
    {"cmd":"charge","evse":1,"power_w":7400}      (0 = the EV pauses)
    {"cmd":"fault","evse":1,"on":true}            {"cmd":"meter_fail","evse":1,"on":true}
    {"cmd":"meter_corrupt","on":true}  (every meter answers with a bad CRC)
    {"cmd":"power_cut"}                (kill the firmware without warning, boot it again on the same flash)
    {"cmd":"flash","image":PATH}       (a technician's cable: the firmware stops, the image is written to the
                                        inactive slot by the board's own slot code and marked to boot pending
                                        verify, and the board resets into it)
    {"cmd":"state"}                    (what the bench applies, per EVSE; the running slot, its version,
                                        whether it is confirmed, the boot count)

The firmware boots from an image (tools/build/image.py) as a board does: <state>/slots/ holds two slots and a boot
record (boards/host/station_slots.py), and boards/host/main.py, the boot loader, mounts the chosen image. A fresh
state directory gets the current build in slot A (--image PATH: that image instead; --version V: its version,
default dev-<hash of the build>). The simulator is the board's reset: when the firmware exits or crashes it starts it
again (a crash boots with reason Watchdog, as the ESP32's watchdog would reset a hung board), counting boots.
--heap is the heap the station gets. The Unix port has no memory-mapped flash, so the image's bytes sit in the heap
too: the simulator adds the larger slot's size (and the heap's own tables for it) on top. --no-image runs the
firmware from the .mpy files instead (bytecode loaded into the heap, as stock MicroPython on a board would).

--state keeps the station's flash between runs; without it a temporary directory is used.
--dm Component.Variable[.Instance]=VALUE (repeatable) sets a device-model variable in the station's
    configuration (cfg["dm"]), e.g. --dm OCPPCommCtrlr.RetryBackOffWaitMinimum=1 --dm AlignedDataCtrlr.Interval=0
    --dm OCPPCommCtrlr.MessageTimeout.Default=5; VALUE is parsed as JSON when it parses (1, true, "x"), else
    kept as a string. It wins over what --org and --password set. A value the CSMS set at run time
    (SetVariables) and kept on flash still wins over the configuration.
--reset-cause CAUSE is the BootNotification reason of the first boot (default PowerUp), e.g. Watchdog;
    a power_cut boots again with PowerUp.
--clock-start ISO8601 (e.g. 2000-01-01T00:00:00Z; no offset means UTC): the station's RTC starts at that
    instant at every boot (also after power_cut), as an ESP32's does after a power loss, until the CSMS
    sets it. Written as cfg["clock_start"] in Unix seconds. Without it the station uses the host clock.
SIGTERM (or Ctrl-C) stops everything cleanly.
"""

import argparse
import asyncio
import base64
import datetime
import json
import os
import signal
import sys
import tempfile
import time

from boards.host import station_slots
from boards.host.sim import pins
from boards.host.sim.meters import MeterSim
from tools import ROOT
from tools.build import image, mpy

MODELS = {"sdm630": "SDM630", "sdm120": "SDM120", "abb_b23": "B23", "em340": "EM340"}
# BootReasonEnumType of OCPP 2.0.1
REASONS = ("ApplicationReset", "FirmwareUpdate", "LocalReset", "PowerUp", "RemoteReset", "ScheduledReset",
           "Triggered", "Unknown", "Watchdog")


class Sim:
    def __init__(self, a):
        self.a = a
        self.dir = a.state or tempfile.mkdtemp(prefix="station-")
        self.flash = os.path.join(self.dir, "flash")
        self.bench_dir = os.path.join(self.dir, "bench")
        os.makedirs(self.bench_dir, exist_ok=True)
        self.evses = list(range(1, a.evses + 1))
        self.meters = MeterSim({e: MODELS[a.meter] for e in self.evses})
        self.proc = None
        self.power = {e: 0 for e in self.evses}
        self.meter_fail = {e: False for e in self.evses}
        self.boots = 0
        self.slots = None if a.no_image else os.path.join(self.dir, "slots")
        self._stopping = False
        self._versions = {}  # (slot, mtime) -> version
        self.wdt_path = os.path.join(self.dir, "wdt")  # the host board's watchdog (station_board.FileWdt)

    def config(self, uart):
        cfg = {
            "dir": self.flash,
            "uart": uart,
            "meters": {str(e): [MODELS[self.a.meter], e] for e in self.evses},
            "evses": self.evses,
            "pins": pins.pins_path(self.bench_dir),
            "csms": self.a.csms,
            "id": self.a.id,
            "serial": self.a.serial or self.a.id,
            "vendor": "OpenCharge",
            "model": "SimAC-%d" % len(self.evses),
            "firmware": "sim",  # without an image; an image's own version record wins (main.py)
            "meter_period_ms": 1000,
            "dm": {"SecurityCtrlr.OrganizationName": self.a.org},
        }
        if self.a.password:
            cfg["dm"]["SecurityCtrlr.BasicAuthPassword"] = self.a.password
            cfg["dm"]["SecurityCtrlr.SecurityProfile"] = 2 if self.a.csms.startswith("wss:") else 1
        cfg["dm"].update(self.a.dm or {})
        if self.a.clock_start is not None:
            cfg["clock_start"] = self.a.clock_start
        if self.a.ca:
            cfg["ca"] = self.ca_der(self.a.ca)
        if self.a.client_cert:  # security profile 3: the certificate the station was provisioned with
            cfg["cert"] = os.path.abspath(self.a.client_cert)
            cfg["key"] = os.path.abspath(self.a.client_key)
        if self.slots:
            cfg["slots"] = self.slots
        cfg["wdt"] = self.wdt_path
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path

    def ca_der(self, path):
        # MicroPython's tls takes the CA in DER only: convert a PEM file once, here on the host.
        with open(path, "rb") as f:
            data = f.read()
        if b"-----BEGIN" in data:
            body = data.split(b"-----")[2]
            data = base64.b64decode(b"".join(body.split()))
        out = os.path.join(self.dir, "ca.der")
        with open(out, "wb") as f:
            f.write(data)
        return out

    def factory(self):
        # A fresh board: the image in slot A, no boot record (slot A as shipped), as esptool would write it.
        if os.path.exists(os.path.join(self.slots, "a.img")):
            return
        os.makedirs(self.slots, exist_ok=True)
        if self.a.image:
            with open(self.a.image, "rb") as f:
                data = f.read()
        else:
            data = image.build("host", self.a.version)
        tmp = os.path.join(self.slots, "a.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.slots, "a.img"))

    def heap(self):
        """-X heapsize: the station's heap, plus (booting from an image) the image buffer and the GC's tables
        for it (on x86-64 a 32-byte block costs 3/8 of a byte of tables)."""
        n = heap_bytes(self.a.heap)
        if self.slots:
            img = max(os.path.getsize(p) for p in (os.path.join(self.slots, x + ".img") for x in "ab")
                      if os.path.exists(p))
            blocks = (img + 16 + 31) // 32 + 1  # the bytearray's data and its object
            n += blocks * 32 + (blocks * 3 + 7) // 8 + 64
        return str(n)

    async def boot(self, reset_cause="PowerUp"):
        # reset_cause: argv[2] of boards/host/main.py, the reason its BootNotification gives
        self.boots += 1
        if os.path.exists(self.wdt_path):
            os.remove(self.wdt_path)  # a new start: the watchdog runs once the station arms it
        env = dict(os.environ)
        # The firmware runs from its image, or from .mpy as on a board with stock MicroPython: no compiler in
        # RAM either way, so --heap means what it says. The boot stage (station_slots) comes from build/mpy/host.
        env["MICROPYPATH"] = mpy.unix_path("host")
        self.proc = await asyncio.create_subprocess_exec(
            mpy.micropython(), "-X", "heapsize=" + self.heap(), os.path.join(ROOT, "boards", "host", "main.py"),
            self.cfg_path, reset_cause, env=env, stdout=sys.stdout, stderr=sys.stdout)
        self._reset = False

    async def supervise(self):
        # The board's reset: a firmware that exits or crashes starts again (unless we stopped it ourselves).
        while not self._stopping:
            proc = self.proc
            code = await proc.wait()
            if self._stopping or proc is not self.proc or self._reset:
                await asyncio.sleep(0.05)  # power_cut or flash restarted it already
                continue
            print("sim: firmware exited (%d); reset" % code, flush=True)
            await asyncio.sleep(0.5 if code else 0)  # a crash loop must not spin the host
            await self.boot("Watchdog" if code else "ApplicationReset")

    async def watchdog(self):
        # The hardware watchdog: armed by the firmware's first feed, it resets a firmware that stops feeding.
        while not self._stopping:
            await asyncio.sleep(0.2)
            try:
                age = time.time() - os.path.getmtime(self.wdt_path)
                with open(self.wdt_path) as f:
                    timeout = int(f.read() or 0) / 1000
            except (OSError, ValueError):
                continue  # not armed (yet), or being rewritten
            if timeout and age > timeout and self.proc.returncode is None and not self._stopping:
                print("sim: watchdog: not fed for %.1f s; reset" % age, flush=True)
                await self.kill()
                await self.boot("Watchdog")

    async def kill(self):
        if self.proc and self.proc.returncode is None:
            self._reset = True
            self.proc.kill()
            await self.proc.wait()

    async def flash_image(self, path):
        # The image goes into the inactive slot through the board's own code (station_slots.Writer), with the
        # firmware stopped, as a cable and a bootloader's download mode would do it; then the board resets.
        if not self.slots:
            raise ValueError("the simulator runs without images (--no-image)")
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise ValueError("no image file %r" % path)
        await self.kill()
        code = ("import station_slots as s\nx = s.Slots(%r)\nx.running = x.record()['active']\nw = x.writer()\n"
                "with open(%r, 'rb') as f:\n    while True:\n        b = f.read(4096)\n        if not b:\n"
                "            break\n        w.write(b)\nw.finish()\nprint(w.slot)\n" % (self.slots, path))
        p = await asyncio.create_subprocess_exec(mpy.micropython(), "-c", code, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.STDOUT,
                                                 env=dict(os.environ, MICROPYPATH=mpy.unix_path("host")))
        out = (await p.communicate())[0].decode().strip()
        if p.returncode:
            await self.boot("PowerUp")  # the running image is untouched: it boots again
            raise ValueError("flash failed (the running image stays): %s" % out.splitlines()[-1:])
        await self.boot("FirmwareUpdate")
        return {"slot": out.splitlines()[-1]}

    def slot_state(self):
        if not self.slots:
            return {"slot": None, "version": "sim", "confirmed": None}
        s = station_slots.Slots(self.slots)  # the board's own reading of its boot record (plain Python)
        active = s.record()["active"]
        p = s.path(active)
        key = (p, os.path.getmtime(p) if os.path.exists(p) else None)
        if key not in self._versions:
            self._versions[key] = image.version_of(p) if key[1] else None
        return {"slot": active, "version": self._versions[key], "confirmed": s.confirmed()}

    def apply(self, e, **inputs):
        pins.set_inputs(self.bench_dir, e, **inputs)

    async def command(self, req):
        cmd = req.get("cmd")
        e = req.get("evse")
        if cmd in ("plug", "unplug", "charge", "fault", "meter_fail") and e not in self.evses:
            raise ValueError("unknown evse %r (have %s)" % (e, self.evses))
        if cmd == "plug":
            self.apply(e, plug=1)
        elif cmd == "unplug":
            self.power[e] = 0
            self.meters.set_power(e, 0)
            self.apply(e, plug=0, charging=0)
        elif cmd == "charge":
            w = float(req.get("power_w", 7400))
            if w < 0:
                raise ValueError("power_w must be >= 0")
            self.power[e] = w
            self.meters.set_power(e, w)
            self.apply(e, plug=1, charging=1 if w > 0 else 0)
        elif cmd == "fault":
            self.apply(e, fault=1 if req.get("on", True) else 0)
        elif cmd == "meter_fail":
            self.meter_fail[e] = bool(req.get("on", True))
            self.meters.set_silent(self.meter_fail[e], unit=e)
        elif cmd == "meter_corrupt":
            self.meters.set_bad_crc(bool(req.get("on", True)))
        elif cmd == "power_cut":
            await self.kill()
            await self.boot("PowerUp")
        elif cmd == "flash":
            return await self.flash_image(req.get("image") or "")
        elif cmd == "state":
            now = pins.get_inputs(self.bench_dir)
            return dict({"evses": {str(x): dict(now.get(str(x), {n: 0 for n in pins.NAMES}),
                                                power_w=self.power[x], meter_fail=self.meter_fail[x],
                                                energy_wh=round(self.meters.energy_wh(x), 3)) for x in self.evses},
                         "boots": self.boots, "running": self.proc is not None and self.proc.returncode is None},
                        **self.slot_state())
        else:
            raise ValueError("unknown cmd %r" % (cmd,))
        return {}

    async def client(self, reader, writer):
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, asyncio.CancelledError):  # the bench went away, or we stop
                break
            if not line:
                break
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("one JSON object per line")
                ans = dict(ok=True, **(await self.command(req)))
            except Exception as ex:  # noqa: BLE001 - every bad request gets an answer, the bench stays up
                ans = {"ok": False, "error": str(ex)}
            writer.write((json.dumps(ans) + "\n").encode())
            await writer.drain()
        writer.close()

    async def run(self):
        uart = await self.meters.astart()
        self.cfg_path = self.config(uart)
        for e in self.evses:
            self.apply(e, plug=0, charging=0, fault=0)
        server = None
        if self.a.control is not None:
            server = await asyncio.start_server(self.client, "127.0.0.1", self.a.control)
            port = server.sockets[0].getsockname()[1]
            print("sim: control port %d, state %s" % (port, self.dir), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        if self.slots:
            self.factory()
        await self.boot(self.a.reset_cause)
        tasks = [asyncio.ensure_future(self.supervise()), asyncio.ensure_future(self.watchdog())]
        await stop.wait()
        self._stopping = True
        await self.kill()
        for t in tasks:
            t.cancel()
        if server:
            server.close()
        await self.meters.astop()


def heap_bytes(text):
    """--heap 96K / 1M / 131072 -> bytes."""
    t = text.strip().upper()
    mul = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    return int(t[:-1] if mul > 1 else t) * mul


def dm_item(text):
    """--dm Component.Variable[.Instance]=VALUE -> (key, value); VALUE as JSON when it parses, else the string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not 2 <= len(parts) <= 3 or not all(parts):
        raise argparse.ArgumentTypeError("want Component.Variable[.Instance]=VALUE, got %r" % text)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def unix_seconds(text):
    """--clock-start ISO8601 -> Unix seconds (int); a time without an offset is UTC."""
    try:
        t = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO 8601 time: %r (e.g. 2000-01-01T00:00:00Z)" % text) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp())


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Simulated charging station (firmware under the Unix port).")
    ap.add_argument("--csms", required=True, help="ws://HOST:PORT/PATH (the station id is appended)")
    ap.add_argument("--id", required=True, help="station id")
    ap.add_argument("--evses", type=int, default=1, choices=range(1, 5))
    ap.add_argument("--meter", default="sdm630", choices=sorted(MODELS))
    ap.add_argument("--state", help="directory kept between runs (the station's flash)")
    ap.add_argument("--control", type=int, help="control port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--password", help="HTTP Basic password (SecurityCtrlr.BasicAuthPassword)")
    ap.add_argument("--ca", help="CA certificate (PEM or DER) for wss://")
    ap.add_argument("--client-cert", help="client certificate chain (PEM or DER) for security profile 3")
    ap.add_argument("--client-key", help="its private key (PEM or DER)")
    ap.add_argument("--heap", default="256K", help="MicroPython heap, e.g. 128K")
    ap.add_argument("--serial", help="serial number (default: the station id)")
    ap.add_argument("--org", default="OpenCharge Test", help="SecurityCtrlr.OrganizationName")
    ap.add_argument("--dm", action="append", type=dm_item, metavar="KEY=VALUE",
                    help="device-model variable Component.Variable[.Instance]=VALUE (repeatable; JSON or text)")
    ap.add_argument("--reset-cause", default="PowerUp", choices=REASONS, metavar="CAUSE",
                    help="BootNotification reason of the first boot (default PowerUp)")
    ap.add_argument("--clock-start", type=unix_seconds, metavar="ISO8601",
                    help="the RTC starts at this time at every boot, e.g. 2000-01-01T00:00:00Z")
    ap.add_argument("--image", help="the image a fresh state directory gets in slot A (default: the current build)")
    ap.add_argument("--version", help="the version record of that build (default dev-<hash of the build>)")
    ap.add_argument("--no-image", action="store_true", help="run the firmware from .mpy files, no image")
    a = ap.parse_args(argv)
    a.dm = dict(a.dm or ())
    return a


def main(argv=None):
    asyncio.run(Sim(parse_args(argv)).run())


if __name__ == "__main__":
    main()
