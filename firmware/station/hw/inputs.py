# Connector contacts per EVSE: plug detect, "EV charging" (contactor feedback or pilot state C) and
# fault (e.g. RCD trip). Sampled every period_ms; an input's change counts only once it has held for
# `samples` consecutive samples, so a bouncing contact never flaps. This module knows contacts, not
# OCPP: station.model.connectors turns them (and the operator's availability) into connector statuses.
#
# Subscribers are plain callbacks, called in the sampling task on every debounced change:
#   cb(evse_id, plugged, charging, fault)      charging is False while unplugged or faulted
# A callback that raises is logged and does not stop the others or the sampling.
# The first sample is taken as the start state without an event; read it with state().
import asyncio

from station import log

_TAG = "inputs"
_DEB = 0  # per-EVSE list slots: debounced bits (1 plug, 2 charging, 4 fault)
_INIT = 4  # first sample taken; slots 1..3 count the samples that disagree with the debounced bit


def _view(bits):
    plugged = bool(bits & 1)
    fault = bool(bits & 4)
    return plugged, plugged and not fault and bool(bits & 2), fault


class Inputs:
    def __init__(self, pins, period_ms=25, samples=3):
        # pins: {evse_id: (plug, charging, fault)}, each an input adapter with value() (1 = active)
        # or None for an input the EVSE does not have.
        self._pins = pins
        self._ids = sorted(pins)  # made once: evse_ids() is read every second (the same list: never change it)
        self.period_ms = period_ms
        self._n = samples
        self._evse = {}
        for e in pins:
            self._evse[e] = [0, 0, 0, 0, False]
        self._subs = []

    def subscribe(self, cb):
        self._subs.append(cb)

    def evse_ids(self):
        return self._ids

    def state(self, evse_id):
        """(plugged, charging, fault) now, debounced; None for an unknown EVSE."""
        s = self._evse.get(evse_id)
        return _view(s[_DEB]) if s else None

    def bits(self, evse_id):
        """The debounced bits (1 plugged, 2 charging contact, 4 fault) without the tuple state() builds;
        None for an unknown EVSE."""
        s = self._evse.get(evse_id)
        return s[_DEB] if s else None

    def sample(self):
        """Take one sample of every input (run() calls this every period_ms; tests may call it)."""
        for e in self._pins:
            pins = self._pins[e]
            raw = 0
            for i in range(3):
                p = pins[i]
                if p is not None and p.value():
                    raw |= 1 << i
            s = self._evse[e]
            if not s[_INIT]:
                s[_DEB] = raw
                s[_INIT] = True
                continue
            deb = s[_DEB]
            if raw == deb and not (s[1] or s[2] or s[3]):
                continue  # the common case: nothing moves
            for i in range(3):
                bit = 1 << i
                if (raw ^ deb) & bit:
                    s[1 + i] += 1
                    if s[1 + i] >= self._n:
                        s[_DEB] ^= bit
                        s[1 + i] = 0
                else:
                    s[1 + i] = 0  # bounced back: start counting again
            if s[_DEB] != deb and _view(s[_DEB]) != _view(deb):
                self._notify(e, _view(s[_DEB]))

    def _notify(self, e, v):
        log.info(_TAG, "evse %d: plugged %d charging %d fault %d", e, v[0], v[1], v[2])
        for cb in self._subs:
            try:
                cb(e, v[0], v[1], v[2])
            except Exception as ex:  # a broken subscriber must not stop the inputs
                log.exc(_TAG, ex, "subscriber")

    async def run(self, sched=None, name="inputs"):
        while True:
            self.sample()
            if sched:
                sched.alive(name)
            await asyncio.sleep_ms(self.period_ms)
