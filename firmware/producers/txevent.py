import log
from producers import ACCEPTED, REJECTED, targets


def prepare(st, kind, evse):
    ids = targets(st, evse)
    if ids is None:
        return REJECTED, "UnknownEvse", None
    ids = [e for e in ids if st.tx.running(e)]
    if not ids:
        return REJECTED, "TxNotFound", None

    async def job(st):
        # Through the normal transaction pipeline (on-flash queue, next seqNo) once the response is out.
        for e in ids:
            if st.tx.running(e):
                st.tx.trigger(e)
            else:  # it ended meanwhile: its Ended event is the newer message of this kind (F06.FR.10 note)
                log.info("trigger", "evse %d: transaction ended before the triggered event", e)

    return ACCEPTED, None, job
