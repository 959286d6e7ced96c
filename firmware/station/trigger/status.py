from station.trigger import ACCEPTED, REJECTED, Call


def prepare(v, kind, evse):
    # The message names one connector; without it we cannot choose (F06.FR.12 allows Rejected).
    if evse is None or evse["id"] == 0:
        return REJECTED, "MissingEvse", None
    if "connectorId" not in evse:
        return REJECTED, "MissingConnectorId", None
    if evse["id"] not in v.evse_ids():
        return REJECTED, "UnknownEvse", None
    e, c = evse["id"], evse["connectorId"]
    p = v.notification(e, c)
    if p is None:
        return REJECTED, "UnknownConnectorId", None
    # Sent as it is now, even if unchanged since the last one: a trigger is never debounced away.
    return ACCEPTED, None, [Call("StatusNotification", p, "Status%d/%d" % (e, c))]
