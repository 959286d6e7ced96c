from station.trigger import ACCEPTED, REJECTED, Call


class Boot(Call):
    # Through the registration: a BootNotification already queued takes the reason, never a second one.
    async def send(self, v):
        v.send_boot("Triggered", reserved=True)


def prepare(v, kind, evse):
    # F06.FR.17: once a BootNotification was answered Accepted, a triggered one is Rejected (TC_F_26).
    if v.boot_accepted():
        return REJECTED, "AlreadyAccepted", None
    return ACCEPTED, None, [Boot("BootNotification", None, None)]
