# One poller per RS485 bus: reads every EVSE's meter each period and keeps the latest reading with
# its ticks time. Readers (producers, transactions) never wait for the bus: reading() answers from
# the cache at once, and None when the meter is down or the reading is older than stale_ms.
import asyncio
import time

from station import log
from station.hw import meters

_TAG = "meter"


class MeterTask:
    def __init__(self, master, evse_meters, period_ms=1000, stale_ms=None, name="meter"):
        # master: hw.modbus.Master of this bus. evse_meters: {evse_id: (model, unit id)}.
        # stale_ms: default three periods plus the time a failing poll may take.
        self._m = master
        self._meters = {}
        self._vals = {}  # evse -> its latest reading (meters.read's raw bytes), in a buffer made once
        n = 0
        for e in evse_meters:
            model, unit = evse_meters[e]
            self._meters[e] = (model, unit)
            self._vals[e] = bytearray(meters.size(model))  # unknown model: fail at start, not at the first poll
            n = max(n, len(self._vals[e]))
        self._buf = bytearray(n)  # a poll reads here first: a failed one leaves the last reading whole
        self.period_ms = period_ms
        self.stale_ms = stale_ms or 3 * period_ms + 2000
        self.name = name
        self._t = {}  # evse -> ticks_ms of that reading (none yet: no reading)
        self._down = {}  # evse -> True while the meter does not answer
        self.polls = 0

    def evse_ids(self):
        return sorted(self._meters)

    def measurands(self):
        """Measurands every meter on this bus can deliver (for the device model's SetVariables check)."""
        out = None
        for e in self._meters:
            ms = meters.measurands(self._meters[e][0])
            out = ms if out is None else tuple(x for x in out if x in ms)
        return out or ()

    def reading(self, evse_id):
        """Latest reading (raw bytes: meters.values(model, r) decodes them) or None: no meter, down or stale."""
        t = self._t.get(evse_id)
        if t is None or self._down.get(evse_id):
            return None
        if time.ticks_diff(time.ticks_ms(), t) > self.stale_ms:
            return None
        return self._vals[evse_id]

    def record(self, evse_id, raw):
        """A fresh reading of one meter (the poller's result; a test may feed readings the same way)."""
        v = self._vals[evse_id]
        v[:] = memoryview(raw)[: len(v)]
        self._t[evse_id] = time.ticks_ms()
        self._down[evse_id] = False

    def sample(self, evse_id, wanted, context=None):
        """OCPP sampledValue list for the wanted measurand names (may be empty), None without a fresh reading."""
        v = self.reading(evse_id)
        if v is None:
            return None
        return meters.sampled(self._meters[evse_id][0], v, wanted, context)

    async def poll_once(self, retries=None):
        """Read every meter once; retries: Modbus retries per read (None: the master's own)."""
        for e in self._meters:
            model, unit = self._meters[e]
            down = self._down.get(e, False)
            try:
                # A meter that is already down gets one try per period, so it does not hold the bus
                # (and the other EVSEs' meters) through all the retries every time.
                v = await meters.read(self._m, model, unit, 0 if down else retries, self._buf)
            except Exception as ex:  # ModbusError, or OSError from the UART: a poll result, not a crash
                if not down:
                    self._down[e] = True
                    log.warn(_TAG, "evse %d: %s unit %d down: %s %s", e, model, unit, type(ex).__name__, ex)
                continue
            self.record(e, v)
            if down:
                self._down[e] = False
                log.info(_TAG, "evse %d: %s unit %d answers again", e, model, unit)
        self.polls += 1

    async def run(self, sched=None):
        """Poll forever; sched (firmware/sched.py) gets alive(name) after every round."""
        while True:
            t0 = time.ticks_ms()
            await self.poll_once()
            if sched:
                sched.alive(self.name)
            wait = self.period_ms - time.ticks_diff(time.ticks_ms(), t0)
            await asyncio.sleep_ms(max(wait, 10))
