from producers import ACCEPTED, REJECTED


def prepare(st, kind, evse):
    # F06.FR.17: once a BootNotification was answered Accepted, a triggered one is Rejected (TC_F_26).
    if st.conn.boot_accepted:
        return REJECTED, None, None

    async def job(st):
        st.conn.send_boot("Triggered")

    return ACCEPTED, None, job
