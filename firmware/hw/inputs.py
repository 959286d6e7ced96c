# Connector inputs per EVSE: plug detect, "EV charging" (contactor feedback or pilot state C) and
# fault (e.g. RCD trip). Sampled every period_ms; an input's change counts only once it has held for
# `samples` consecutive samples, so a bouncing contact never flaps the connector status.
#
# Subscribers are plain callbacks, called in the sampling task on every debounced change:
#   cb(evse_id, connector_id, status, plugged, charging)
# status: "Available" | "Occupied" | "Faulted" | "Unavailable" (operator disabled, see set_enabled).
# A callback that raises is logged and does not stop the others or the sampling.
# The first sample is taken as the start state without an event; read it with state().
import asyncio

import log

AVAILABLE = "Available"
OCCUPIED = "Occupied"
FAULTED = "Faulted"
UNAVAILABLE = "Unavailable"

_TAG = "inputs"
_DEB = 0  # per-EVSE list slots: debounced bits (1 plug, 2 charging, 4 fault)
_CNT = 1  # counts of samples that disagree with the debounced value, one per input: slots 1..3
_EN = 4  # operator enabled
_INIT = 5  # first sample taken


def _status(bits, enabled):
    if bits & 4:
        return FAULTED
    if not enabled:
        return UNAVAILABLE
    return OCCUPIED if bits & 1 else AVAILABLE


def _view(s):
    bits = s[_DEB]
    plugged = bool(bits & 1)
    fault = bool(bits & 4)
    return (_status(bits, s[_EN]), plugged, plugged and not fault and bool(bits & 2), fault)


class Inputs:
    def __init__(self, pins, period_ms=25, samples=3, connector_id=1):
        # pins: {evse_id: (plug, charging, fault)}, each an input adapter with value() (1 = active)
        # or None for an input the EVSE does not have. One connector per EVSE (connector_id).
        self._pins = pins
        self.period_ms = period_ms
        self._n = samples
        self.connector_id = connector_id
        self._st = {}
        for e in pins:
            self._st[e] = [0, 0, 0, 0, True, False]
        self._subs = []

    def subscribe(self, cb):
        self._subs.append(cb)

    def evse_ids(self):
        return sorted(self._pins)

    def state(self, evse_id):
        """(status, plugged, charging, fault) now, debounced; None for an unknown EVSE."""
        s = self._st.get(evse_id)
        return _view(s) if s else None

    def status(self, evse_id):
        s = self._st.get(evse_id)
        return _view(s)[0] if s else None

    def set_enabled(self, evse_id, on):
        """Operator (ChangeAvailability) enables/disables the connector; notifies if the status moves."""
        s = self._st[evse_id]
        before = _view(s)
        s[_EN] = bool(on)
        self._notify(evse_id, before, _view(s))

    def _notify(self, e, before, after):
        if after[:3] == before[:3]:
            return
        log.info(_TAG, "evse %d: %s%s", e, after[0], " charging" if after[2] else "")
        for cb in self._subs:
            try:
                cb(e, self.connector_id, after[0], after[1], after[2])
            except Exception as ex:  # a broken subscriber must not stop the inputs
                log.exc(_TAG, ex, "subscriber")

    def sample(self):
        """Take one sample of every input (run() calls this every period_ms; tests may call it)."""
        for e in self._pins:
            pins = self._pins[e]
            raw = 0
            for i in range(3):
                p = pins[i]
                if p is not None and p.value():
                    raw |= 1 << i
            s = self._st[e]
            if not s[_INIT]:
                s[_DEB] = raw
                s[_INIT] = True
                continue
            deb = s[_DEB]
            if raw == deb and not (s[1] or s[2] or s[3]):
                continue  # the common case: nothing moves
            before = _view(s)
            for i in range(3):
                bit = 1 << i
                if (raw ^ deb) & bit:
                    s[1 + i] += 1
                    if s[1 + i] >= self._n:
                        s[_DEB] ^= bit
                        s[1 + i] = 0
                else:
                    s[1 + i] = 0  # bounced back: start counting again
            if s[_DEB] != deb:
                self._notify(e, before, _view(s))

    async def run(self, sched=None, name="inputs"):
        while True:
            self.sample()
            if sched:
                sched.alive(name)
            await asyncio.sleep_ms(self.period_ms)
