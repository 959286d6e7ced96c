from producers import ACCEPTED, REJECTED

ROOM = 1


def prepare(st, kind, evse):
    # F06.FR.17: once a BootNotification was answered Accepted, a triggered one is Rejected (TC_F_26).
    if st.conn.boot_accepted:
        return REJECTED, "AlreadyAccepted", None

    async def job(st):
        st.conn.send_boot("Triggered", reserved=True)

    return ACCEPTED, None, job
