# Security events (A04): each one becomes a SecurityEventNotification queued on flash, so it reaches the
# CSMS after a disconnect or a power cut (A04.FR.02 asks that for the critical ones; queueing every event
# costs one small file and keeps one rule). Each event is also appended to the security log on flash
# (A04.FR.04; logs/ring.py), which GetLog(SecurityLog) uploads, and to the diagnostics log.
#
#   sec = Security(TxQueue(store.sub("sec"), 20, "SecurityEventNotification"), outbox.wake, ring)
#   outbox.add_source(sec.q)
#   sec.event("InvalidChargingStationCertificate", "chain does not verify")
# Event names are those of the spec's security_events.csv (InvalidChargingStationCertificate,
# InvalidFirmwareSignature, FirmwareUpdated, ...).
from station import clock
from station import log

_TAG = "security"
_INFO = 255  # SecurityEventNotificationRequest.techInfo maxLength


class Security:
    def __init__(self, q, wake=None, ring=None):
        self.q = q
        self._wake = wake
        self.ring = ring

    def event(self, kind, info=None):
        """Queue one security event (never raises: a full flash keeps it in RAM, see txq)."""
        p = {"type": kind, "timestamp": clock.stamp()}
        if info:
            p["techInfo"] = str(info)[:_INFO]
        text = kind + (": " + p["techInfo"] if info else "")
        log.warn(_TAG, "%s", text)
        if self.ring is not None:
            self.ring.add(2, _TAG, text)
            self.ring.flush()  # rare and wanted: on flash at once, not with the next buffer
        try:
            self.q.push(p)
        except Exception as e:  # a bug or no memory must not take the caller (a CSMS request) down
            log.exc(_TAG, e, "queueing " + kind)
        if self._wake:
            self._wake()
