from station.trigger import ACCEPTED, Call


def prepare(v, kind, evse):
    # Always possible; evse does not matter to a Heartbeat and is ignored (F06.FR.03).
    return ACCEPTED, None, [Call("Heartbeat", {}, "Heartbeat")]
