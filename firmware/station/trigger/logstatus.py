from station.trigger import ACCEPTED, Call


def prepare(v, kind, evse):
    # From the log-upload state (v.logs); evse does not matter and is ignored (F06.FR.03).
    return ACCEPTED, None, [Call(kind, v.logs.trigger_payload(), kind)]
