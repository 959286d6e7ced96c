from producers import ACCEPTED


def prepare(st, kind, evse):
    # Always possible; evse does not matter to a Heartbeat and is ignored (F06.FR.03).
    return ACCEPTED, None, [("Heartbeat", {}, "Heartbeat")]
