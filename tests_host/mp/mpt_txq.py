import os

from flash import FullFS
from mptest import eq
from station.store import Store
from station.model.txq import TxQueue

HEAP = "48K"
_ROOT = "/tmp/mpt_txq"


def _q(bound=200, fresh=True):
    if fresh:
        os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return TxQueue(Store(_ROOT), bound)


def _drain(q):
    """Every queued payload in order, acknowledged as the CSMS would."""
    out = []
    while q.peek():
        name, p = q.peek()
        out.append(p)
        q.ack(name)
    return out


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
    seen = [p["seqNo"] for p in _drain(q2)]
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
    kinds = [(p["transactionInfo"]["transactionId"], p["seqNo"]) for p in _drain(q)]
    eq(kinds, [("T1", 0), ("T1", 3), ("T2", 0), ("T2", 1)])


def test_corrupt_file_is_skipped_and_scan_reads_each_file_once():
    q = _q()
    q.push(_ev("Started", 0))
    n = q.push(_ev("Updated", 1))
    q.push(_ev("Updated", 2, "T9"))
    with open(_ROOT + "/" + n, "wb") as f:
        f.write(b'{"eventType": "Upd')  # torn write on a filesystem without atomic rename
    info = q.scan()
    eq(info["T1"][:2], [0, False])
    eq(info["T9"][:2], [2, False])
    assert "nope" not in info
    eq(q.peek()[1]["seqNo"], 0)
    q.ack(q.peek()[0])
    eq(q.peek()[1]["transactionInfo"]["transactionId"], "T9")


def test_triggered_update_outlives_plain_updates_when_the_bound_drops():
    q = _q(bound=3)
    q.push(_ev("Started", 0))
    q.push(_ev("Updated", 1), triggered=True)  # the CSMS was promised this one (F06.FR.10)
    q.push(_ev("Updated", 2))
    q.push(_ev("Updated", 3))
    seen = [p["seqNo"] for p in _drain(q)]
    eq(seen, [0, 1, 3])


def test_flash_full_drops_an_intermediate_update_then_keeps_the_event_in_ram():
    os.system("rm -rf " + _ROOT)
    fs = FullFS()
    q = TxQueue(Store(_ROOT, fs))
    q.push(_ev("Started", 0))
    q.push(_ev("Updated", 1))
    fs.full = True
    fs.remove = lambda p: (os.remove(p), setattr(fs, "full", False))  # deleting a file frees room
    q.push(_ev("Updated", 2))  # no room: Updated 1 goes, Updated 2 is written
    fs.full = True
    fs.remove = os.remove
    q.push(_ev("Ended", 3))  # still full after Updated 2 was dropped: Ended waits in RAM
    q.push(_ev("Started", 0, "T2"))  # nothing left to drop: kept in RAM, still sent in order
    seen = [(p["transactionInfo"]["transactionId"], p["seqNo"]) for p in _drain(q)]
    eq(seen, [("T1", 0), ("T1", 3), ("T2", 0)])
