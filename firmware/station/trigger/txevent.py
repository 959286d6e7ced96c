from station import log
from station.trigger import ACCEPTED, REJECTED, Call, targets


class TxUpdate(Call):
    # Through the transaction pipeline (on-flash queue, next seqNo), not the outbox's RAM queue.
    room = 0

    def __init__(self, evse):
        super().__init__("TransactionEvent", None, None)
        self.evse = evse

    async def send(self, v):
        e = self.evse
        if v.tx.running(e):
            v.tx.trigger(e)
        else:  # it ended meanwhile: its Ended event is the newer message of this kind (F06.FR.10 note)
            log.info("trigger", "evse %d: transaction ended before the triggered event", e)


def prepare(v, kind, evse):
    ids = targets(v, evse)
    if ids is None:
        return REJECTED, "UnknownEvse", None
    ids = [e for e in ids if v.tx.running(e)]
    if not ids:
        return REJECTED, "TxNotFound", None
    return ACCEPTED, None, [TxUpdate(e) for e in ids]
