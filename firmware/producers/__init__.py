# One module per triggerable message. Each has
#   prepare(st, kind, evse) -> (status, reasonCode or None, job)
# decided synchronously from live station state (F06.FR.10: Accepted only when the message can be produced).
# job is None unless Accepted; otherwise a list of (action, payload, key) built from the state at decision
# time, or an async function job(st) for messages that take long to build (CSR) or belong to another
# pipeline. The trigger module queues the job only after the TriggerMessageResponse is on the wire.
# Room in the outbox is reserved before answering: one place per list entry, or the module's ROOM for
# an async job, which then puts its message with reserved=True (or gives the place back with
# st.outbox.release() if it cannot send). An optional undo(st, kind) gives back what prepare() reserved
# when the answer never reached the CSMS.
# st is the station (app.Station): dm, outbox, conn, tx, sample(), connector(), evse_ids(), fw, logs, keys.

ACCEPTED = "Accepted"
REJECTED = "Rejected"
NOT_IMPLEMENTED = "NotImplemented"


def targets(st, evse):
    """EVSE ids an EVSE-relevant trigger aims at: absent or id 0 = every EVSE (F06.FR.11); None if unknown."""
    if evse is None or evse["id"] == 0:
        return st.evse_ids()
    return [evse["id"]] if evse["id"] in st.evse_ids() else None
