from station import clock
from station.trigger import ACCEPTED, REJECTED, Call, targets


def prepare(v, kind, evse):
    ids = targets(v, evse)
    if ids is None:
        return REJECTED, "UnknownEvse", None
    meas = v.dm.measurands("AlignedDataCtrlr", "Measurands")
    msgs = []
    for e in ids:
        sv = v.sample(e, meas, "Trigger")
        if not sv:  # meter down or reading stale: never send old or invented values (F06.FR.09)
            return REJECTED, "NoFreshMeterValue", None
        p = {"evseId": e, "meterValue": [{"timestamp": clock.stamp(), "sampledValue": sv}]}
        msgs.append(Call("MeterValues", p, "Meter%d" % e))
    return ACCEPTED, None, msgs
