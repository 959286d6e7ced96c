# TriggerMessage (F06): map requestedMessage to its producer, answer from live state, and only after the
# response is on the wire queue the requested message(s). See producers/__init__.py for the contract.
import log
from producers import ACCEPTED, NOT_IMPLEMENTED

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


def handle(st, req):
    """TriggerMessageRequest -> (TriggerMessageResponse, after) where after() runs once the response is sent."""
    kind = req["requestedMessage"]
    evse = req.get("evse")
    name = _PRODUCERS.get(kind)
    if name is None:
        log.info(_TAG, "%s: NotImplemented", kind)
        return {"status": NOT_IMPLEMENTED}, None
    status, reason, job = _producer(name).prepare(st, kind, evse)
    log.info(_TAG, "%s evse=%r: %s%s", kind, evse, status, " (%s)" % reason if reason else "")
    resp = {"status": status}
    if reason:
        resp["statusInfo"] = {"reasonCode": reason}
    if status != ACCEPTED:
        return resp, None

    async def after():
        if isinstance(job, list):
            for action, payload, key in job:
                # A same-kind message already queued for the same target counts as this one.
                st.outbox.put(action, payload, triggered=True, key=key)
        else:
            await job(st)

    return resp, after
