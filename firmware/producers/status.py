import clock
from producers import ACCEPTED, REJECTED


def build(st, evse_id, conn_id):
    """StatusNotification payload of one connector, from its current debounced state; None if unknown."""
    status = st.connector(evse_id, conn_id)
    if status is None:
        return None
    return {"timestamp": clock.stamp(), "connectorStatus": status, "evseId": evse_id, "connectorId": conn_id}


def key(evse_id, conn_id):
    return "Status%d/%d" % (evse_id, conn_id)


def prepare(st, kind, evse):
    # The message names one connector; without it we cannot choose (F06.FR.12 allows Rejected).
    if evse is None or evse["id"] == 0:
        return REJECTED, "MissingEvse", None
    if "connectorId" not in evse:
        return REJECTED, "MissingConnectorId", None
    if evse["id"] not in st.evse_ids():
        return REJECTED, "UnknownEvse", None
    e, c = evse["id"], evse["connectorId"]
    p = build(st, e, c)
    if p is None:
        return REJECTED, "UnknownConnectorId", None
    # Sent as it is now, even if unchanged since the last one: a trigger is never debounced away.
    return ACCEPTED, None, [("StatusNotification", p, key(e, c))]
