# TriggerMessage (F06): map requestedMessage to its producer, answer from live state, and only after the
# response is on the wire queue the requested message(s). See producers/__init__.py for the contract.
# Accepted means sent (F06.FR.10): the outbox room for the message is reserved before answering, and
# given back (with whatever the producer reserved) when the answer could not be sent.
import log
from producers import ACCEPTED, NOT_IMPLEMENTED, REJECTED

_TAG = "trigger"
# requestedMessage -> producer module. PublishFirmwareStatusNotification is absent on purpose: only a
# Local Controller sends it (F06.FR.08), so it is NotImplemented like any kind not listed here.
_PRODUCERS = {
    "BootNotification": "boot",
    "Heartbeat": "heartbeat",
    "StatusNotification": "status",
    "MeterValues": "meter",
    "TransactionEvent": "txevent",
    "LogStatusNotification": "fwlog",
    "FirmwareStatusNotification": "fwlog",
    "SignChargingStationCertificate": "sign",
    "SignV2GCertificate": "sign",
    "SignCombinedCertificate": "sign",
}


def _producer(name):
    # Imported on first use: a station that is never triggered keeps that code out of RAM.
    return getattr(__import__("producers." + name), name)


def _undo(mod, st, kind):
    undo = getattr(mod, "undo", None)
    if undo is not None:
        undo(st, kind)


def handle(st, req):
    """TriggerMessageRequest -> (TriggerMessageResponse, after) where after(sent) runs once the response
    is on the wire (sent True) or could not be sent (False)."""
    kind = req["requestedMessage"]
    evse = req.get("evse")
    name = _PRODUCERS.get(kind)
    if name is None:
        log.info(_TAG, "%s: NotImplemented", kind)
        return {"status": NOT_IMPLEMENTED}, None
    mod = _producer(name)
    status, reason, job = mod.prepare(st, kind, evse)
    room = 0
    if status == ACCEPTED:
        room = len(job) if isinstance(job, list) else getattr(mod, "ROOM", 0)
        if room and not st.outbox.reserve(room):
            _undo(mod, st, kind)
            status, reason, job = REJECTED, "QueueFull", None
    log.info(_TAG, "%s evse=%r: %s%s", kind, evse, status, " (%s)" % reason if reason else "")
    resp = {"status": status}
    if reason:
        resp["statusInfo"] = {"reasonCode": reason}
    if status != ACCEPTED:
        return resp, None

    async def after(sent):
        if not sent:
            st.outbox.release(room)
            _undo(mod, st, kind)
            return
        if isinstance(job, list):
            for action, payload, key in job:
                # A same-kind triggered message already queued for the same target counts as this one.
                st.outbox.put(action, payload, triggered=True, key=key, reserved=True)
        else:
            await job(st)

    return resp, after
