import clock
from producers import ACCEPTED, REJECTED, targets


def prepare(st, kind, evse):
    ids = targets(st, evse)
    if ids is None:
        return REJECTED, "UnknownEvse", None
    meas = st.dm.measurands("AlignedDataCtrlr", "Measurands")
    msgs = []
    for e in ids:
        sv = st.sample(e, meas, "Trigger")
        if not sv:  # meter down or reading stale: never send old or invented values (F06.FR.09)
            return REJECTED, "NoFreshMeterValue", None
        p = {"evseId": e, "meterValue": [{"timestamp": clock.stamp(), "sampledValue": sv}]}
        msgs.append(("MeterValues", p, "Meter%d" % e))
    return ACCEPTED, None, msgs
