# The EVSEs' connectors as OCPP sees them: connectorStatus from the debounced contacts (hw/inputs.py)
# and the operator's availability (ChangeAvailability, G03, kept on flash); the transactions hear every
# change; spontaneous StatusNotifications go to the outbox when the status moves, and after an Accepted
# boot for every connector (B01.FR.05). One connector per EVSE (CONNECTOR).
#
#   c = Connectors(inputs, store, tx, outbox)
#   c.start()                 # at boot: first sample, availability from flash, EVs already plugged in
#   c.status(evse, conn)      # "Available" | "Occupied" | "Faulted" | "Unavailable", None if unknown
#   c.notification(e, conn)   # StatusNotification payload as it is now, None if unknown
#   c.change_availability(req) -> ChangeAvailabilityResponse payload
#   c.report_all()            # every connector, also unchanged ones (after an Accepted boot)
#   c.tick()                  # once a second: availability waiting on a transaction, dropped reports
from station import clock, log

CONNECTOR = 1
AVAILABLE = "Available"
OCCUPIED = "Occupied"
FAULTED = "Faulted"
UNAVAILABLE = "Unavailable"
_TAG = "connector"
_FILE = "avail"


def _key(e, c):
    return "Status%d/%d" % (e, c)


class Connectors:
    def __init__(self, inputs, store, tx, outbox):
        self._in = inputs
        self._store = store
        self._tx = tx
        self._ob = outbox
        self._want = {}  # evse -> False when the operator made it Inoperative (persisted)
        self._on = {}  # evse -> the availability in force (a wish waits while a transaction runs)
        self._seen = {}  # evse -> (status, charging) last told to the transactions and the log
        self._reported = {}  # StatusNotification key -> connectorStatus last queued
        self._held = False  # a firmware install waits: free EVSEs Unavailable (L01.FR.07), never persisted
        self._keys = {}  # evse -> its StatusNotification key, made once (report() runs every second)

    def evse_ids(self):
        return self._in.evse_ids()

    def _status(self, e):
        b = self._in.bits(e)  # (read every second: no state() tuple)
        if b & 4:
            return FAULTED
        if not self._on.get(e, True) or self._held and not self._tx.running(e):
            return UNAVAILABLE
        return OCCUPIED if b & 1 else AVAILABLE

    def status(self, e, c=CONNECTOR):
        if c != CONNECTOR or self._in.bits(e) is None:
            return None
        return self._status(e)

    def notification(self, e, c=CONNECTOR):
        s = self.status(e, c)
        if s is None:
            return None
        return {"timestamp": clock.stamp(), "connectorStatus": s, "evseId": e, "connectorId": c}

    def plugged(self, e):
        return self._in.state(e)[0]

    # --- changes ----------------------------------------------------------------------------------------

    def start(self):
        """At boot, before the transactions recover: the start state and the availability from flash."""
        self._in.sample()
        raw = self._store.read(_FILE)
        for e, flag in zip(self.evse_ids(), raw or b""):
            self._want[e] = flag == ord("1")
        for e in self.evse_ids():
            self._on[e] = self._want.get(e, True)
            self._seen[e] = (self._status(e), self._in.state(e)[1])
        self._in.subscribe(lambda e, plugged, charging, fault: self._moved(e))

    def start_plugged(self):
        """An EV already plugged in at boot starts its transaction (not on an Inoperative/Faulted one)."""
        for e in self.evse_ids():
            plugged, charging, _ = self._in.state(e)
            if plugged and not self._tx.running(e):
                self._tx.on_connector(e, CONNECTOR, plugged, charging, self._status(e) in (AVAILABLE, OCCUPIED))

    def _moved(self, e):
        plugged, charging, _ = self._in.state(e)
        s = self._status(e)
        if self._seen.get(e) != (s, charging):
            self._seen[e] = (s, charging)
            log.info(_TAG, "evse %d: %s%s", e, s, " charging" if charging else "")
        self._tx.on_connector(e, CONNECTOR, plugged, charging, s in (AVAILABLE, OCCUPIED))
        self.report(e)

    def report(self, e, always=False):
        # Spontaneous StatusNotification only when connectorStatus moves (charging on/off is not one). The
        # status is compared first: the payload (a dict and a timestamp) is built only when one goes out.
        s = self.status(e)
        if s is None:
            return
        k = self._keys.get(e)
        if k is None:
            k = self._keys[e] = _key(e, CONNECTOR)
        if always or self._reported.get(k) != s:
            # Marked as reported only once queued: a status the full queue dropped is tried again (tick).
            if self._ob.put("StatusNotification", self.notification(e), key=k):
                self._reported[k] = s

    def report_all(self):
        for e in self.evse_ids():
            self.report(e, True)

    # --- availability (G03) -----------------------------------------------------------------------------

    def change_availability(self, req):
        on = req["operationalStatus"] == "Operative"
        evse = req.get("evse")
        if evse is None or evse["id"] == 0:
            ids = self.evse_ids()  # the whole station (a board without EVSEs has nothing to switch)
        elif evse["id"] in self.evse_ids():
            ids = [evse["id"]]
            if evse.get("connectorId", CONNECTOR) != CONNECTOR:
                return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownConnectorId"}}
        else:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
        for e in ids:
            self._want[e] = on
        try:
            self._store.write(_FILE, "".join("1" if self._want.get(e, True) else "0" for e in self.evse_ids()))
        except OSError as ex:  # applied now, but a reboot will not remember it
            log.error(_TAG, "availability not saved: %r", ex)
        self._apply()
        # A running transaction is not cut; the EVSE goes Inoperative once it has ended. Only the EVSEs
        # this request names decide: another one waiting on its transaction is not this answer's.
        later = not on and any(self._tx.running(e) for e in ids)
        return {"status": "Scheduled" if later else "Accepted"}

    def hold(self, on):
        """A firmware install waits for the transactions: EVSEs without one are Unavailable (and each one
        whose transaction ends becomes so) until hold(False); RAM only, so a reboot ends it too."""
        self._held = on
        for e in self.evse_ids():
            self._moved(e)

    def _apply(self):
        for e in self.evse_ids():
            on = self._want.get(e, True)
            if (on or not self._tx.running(e)) and self._on.get(e, True) != on:
                self._on[e] = on
                self._moved(e)

    def tick(self):
        self._apply()
        for e in self.evse_ids():  # a status the full queue dropped is reported once there is room
            self.report(e)
