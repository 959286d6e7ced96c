from station.trigger import ACCEPTED, Call


def prepare(v, kind, evse):
    # From what the firmware-update code last sent (v.fw); evse does not matter and is ignored (TC_F_17).
    return ACCEPTED, None, [Call(kind, v.fw.trigger_payload(), kind)]
