from station.trigger import ACCEPTED, Call


def prepare(v, kind, evse):
    # Always possible; evse does not matter to a Heartbeat and is ignored (F06.FR.03).
    # Its answer sets the clock as a spontaneous one's does (the CSMS's currentTime).
    return ACCEPTED, None, [Call("Heartbeat", {}, "Heartbeat", v.heartbeat_result)]
