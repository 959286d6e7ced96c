# LogStatusNotification and FirmwareStatusNotification: from state that log upload and firmware update
# code set (st.logs, st.fw). evse does not matter to either and is ignored (F06.FR.03, TC_F_17).
from producers import ACCEPTED


def prepare(st, kind, evse):
    if kind == "LogStatusNotification":
        p = st.logs.trigger_payload()
    else:
        p = st.fw.trigger_payload()
    return ACCEPTED, None, [(kind, p, kind)]
