# TriggerMessage (F06), all of it: the CSMS asks for a message, the station answers Accepted / Rejected /
# NotImplemented from live state and, only after that answer is on the wire and only if Accepted, sends it.
#
#   resp, after = handle(view, req)   # rpc.py sends resp, then runs after(sent)
#
# One producer module per requestedMessage (_PRODUCERS), each with
#   prepare(view, kind, evse) -> (status, reasonCode or None, [message, ...] or None)
# decided synchronously from the view (trigger/view.py: what producers may read; F06.FR.10: Accepted only
# when the message can be produced). Every message is a Call: its room in the outbox is reserved before
# answering (none left: Rejected, QueueFull), send(view) queues it once the answer is out, undo(view)
# gives back what prepare() reserved when the answer never reached the CSMS. Subclasses send otherwise:
# the BootNotification through the registration, a CSR once built, a TransactionEvent through the
# transaction pipeline. A triggered message is put with triggered=True, so the outbox keeps it apart from
# spontaneous ones of the same key (never merged, Pending gate, discarded on disconnect: F06.FR.09).
import sys

from station import log

ACCEPTED = "Accepted"
REJECTED = "Rejected"
NOT_IMPLEMENTED = "NotImplemented"
_TAG = "trigger"

# requestedMessage -> producer module. PublishFirmwareStatusNotification is absent on purpose: only a
# Local Controller sends it (F06.FR.08), so it is NotImplemented like any kind not listed here.
_PRODUCERS = {
    "BootNotification": "boot",
    "Heartbeat": "heartbeat",
    "StatusNotification": "status",
    "MeterValues": "meter",
    "TransactionEvent": "txevent",
    "LogStatusNotification": "logstatus",
    "FirmwareStatusNotification": "fwstatus",
    "SignChargingStationCertificate": "sign",
    "SignV2GCertificate": "sign",
    "SignCombinedCertificate": "sign",
}


class Call:
    """A triggered CALL for the outbox, its payload built from the state at decision time."""

    room = 1  # outbox places it needs

    def __init__(self, action, payload, key, on_result=None):
        self.action = action
        self.payload = payload
        self.key = key
        self.on_result = on_result

    async def send(self, v):
        v.outbox.put(self.action, self.payload, triggered=True, key=self.key, on_result=self.on_result,
                     reserved=True)

    def undo(self, v):
        pass


def targets(v, evse):
    """EVSE ids an EVSE-relevant trigger aims at: absent or id 0 = every EVSE (F06.FR.11); None if unknown."""
    if evse is None or evse["id"] == 0:
        return v.evse_ids()
    return [evse["id"]] if evse["id"] in v.evse_ids() else None


def _producer(name):
    # Imported on first use: a station that is never triggered keeps that code out of RAM. A board that
    # leaves an optional package out (certs) answers its kinds NotImplemented.
    full = "station.trigger." + name
    try:
        __import__(full)
    except ImportError as e:
        log.warn(_TAG, "%s not on this board: %r", full, e)
        return None
    return sys.modules[full]


def handle(v, req):
    """TriggerMessageRequest -> (TriggerMessageResponse, after) where after(sent) runs once the response
    is on the wire (sent True) or could not be sent (False)."""
    kind = req["requestedMessage"]
    evse = req.get("evse")
    name = _PRODUCERS.get(kind)
    mod = _producer(name) if name else None
    if mod is None:
        log.info(_TAG, "%s: NotImplemented", kind)
        return {"status": NOT_IMPLEMENTED}, None
    status, reason, msgs = mod.prepare(v, kind, evse)
    room = 0
    if status == ACCEPTED:
        room = sum(m.room for m in msgs)
        if room and not v.outbox.reserve(room):
            for m in msgs:
                m.undo(v)
            status, reason, msgs = REJECTED, "QueueFull", None
    log.info(_TAG, "%s evse=%r: %s%s", kind, evse, status, " (%s)" % reason if reason else "")
    resp = {"status": status}
    if reason:
        resp["statusInfo"] = {"reasonCode": reason}
    if status != ACCEPTED:
        return resp, None

    async def after(sent):
        if not sent:
            v.outbox.release(room)
            for m in msgs:
                m.undo(v)
            return
        for m in msgs:
            await m.send(v)

    return resp, after
