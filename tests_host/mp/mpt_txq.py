import os

from mptest import eq
from station.store import Store
from station.txq import TxQueue

HEAP = "48K"
_ROOT = "/tmp/mpt_txq"


def _q(bound=200, fresh=True):
    if fresh:
        os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return TxQueue(Store(_ROOT), bound)


def _ev(kind, seq, tx="T1"):
    return {"eventType": kind, "seqNo": seq, "transactionInfo": {"transactionId": tx},
            "timestamp": "2026-01-01T00:00:00Z", "triggerReason": "Trigger"}


def test_fifo_survives_reboot():
    q = _q()
    q.push(_ev("Started", 0))
    q.push(_ev("Updated", 1))
    q.push(_ev("Ended", 2))
    q2 = _q(fresh=False)  # power cut: a new queue reads the directory
    eq(len(q2), 3)
    seen = []
    while q2.peek():
        name, p = q2.peek()
        seen.append(p["seqNo"])
        q2.ack(name)
    eq(seen, [0, 1, 2])
    q2.push(_ev("Started", 0, "T2"))  # numbering continues after the acknowledged ones
    eq(_q(fresh=False).peek()[1]["transactionInfo"]["transactionId"], "T2")


def test_bound_drops_intermediate_updates_first():
    q = _q(bound=4)
    q.push(_ev("Started", 0))
    q.push(_ev("Updated", 1))
    q.push(_ev("Updated", 2))
    q.push(_ev("Ended", 3))
    q.push(_ev("Started", 0, "T2"))
    q.push(_ev("Updated", 1, "T2"))
    kinds = []
    while q.peek():
        name, p = q.peek()
        kinds.append((p["transactionInfo"]["transactionId"], p["seqNo"]))
        q.ack(name)
    eq(kinds, [("T1", 0), ("T1", 3), ("T2", 0), ("T2", 1)])


def test_corrupt_file_is_skipped_and_max_seq():
    q = _q()
    q.push(_ev("Started", 0))
    n = q.push(_ev("Updated", 1))
    q.push(_ev("Updated", 2, "T9"))
    with open(_ROOT + "/" + n, "wb") as f:
        f.write(b'{"eventType": "Upd')  # torn write on a filesystem without atomic rename
    eq(q.max_seq("T1"), 0)
    eq(q.max_seq("T9"), 2)
    eq(q.max_seq("nope"), -1)
    eq(q.peek()[1]["seqNo"], 0)
    q.ack(q.peek()[0])
    eq(q.peek()[1]["transactionInfo"]["transactionId"], "T9")
