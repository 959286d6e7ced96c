# The bounded log on flash (logs/ring.py): oldest dropped first, one flash write per buffer, a full or
# failing flash costs lines (counted) and never an exception, a torn append costs at most its own line.
import os

from flash import FullFS, rmtree
from mptest import eq
from station.logs import ring
from station.store import Store

HEAP = "48K"
_ROOT = "/tmp/mpt_ring"


class CountFS(FullFS):
    # Counts the appends that reach the flash.
    def __init__(self, room=None):
        super().__init__(room)
        self.appends = 0

    def open(self, path, mode="r"):
        if "a" in mode:
            self.appends += 1
        return super().open(path, mode)


def _ring(fs=None, fresh=True, seg=1024, segs=4, buf=256):
    if fresh:
        rmtree(_ROOT)
    return Ring(Store(_ROOT, fs), seg, segs, buf)


Ring = ring.Ring


def _lines(r):
    out = []
    for path, size in r.snapshot():
        with open(path, "rb") as f:
            out += [ln for ln in f.read()[:size].split(b"\n") if ln]
    return out


def test_bound_holds_and_oldest_go_first():
    fs = CountFS()
    r = _ring(fs)
    for i in range(2000):
        r.add(1, "t", "line %05d" % i)
    r.flush()
    total = sum(s for _, s in r.snapshot())
    assert total <= 4 * 1024 + 256, total  # four segments, the newest may overrun by one buffer
    lines = _lines(r)
    eq(lines[-1].split(b": ")[-1], b"line 01999")
    first = int(lines[0].split(b"line ")[-1])
    assert first > 1500, first  # the oldest went
    nums = [int(ln.split(b"line ")[-1]) for ln in lines]
    eq(nums, list(range(first, 2000)))  # none lost in between, in order
    # one append per buffer, not per line: a buffer holds all but the line that no longer fits
    n = len(lines[-1]) + 1
    assert fs.appends <= 2000 * n // (256 - n) + 2, (fs.appends, n)


def test_full_flash_loses_lines_not_the_station():
    fs = CountFS()
    r = _ring(fs)
    r.add(1, "t", "before")
    r.flush()
    fs.full = True
    for i in range(100):
        r.add(2, "t", "while full %d" % i)  # never raises
    assert r.lost > 0
    fs.full = False
    r.add(1, "t", "after")
    r.flush()
    texts = [ln.split(b": ", 1)[1] for ln in _lines(r)]
    eq(texts[0], b"before")
    eq(texts[-1], b"after")


def test_torn_append_costs_its_own_line():
    fs = FullFS()
    r = _ring(fs)
    r.add(1, "t", "whole")
    r.flush()
    fs.room = 10  # the power goes in the middle of the next append
    r.add(1, "t", "torn away")
    r.flush()
    fs.room = None
    r = _ring(fs, fresh=False)  # after the reboot
    r.add(1, "t", "next boot")
    r.flush()
    lines = _lines(r)
    eq(lines[0].split(b": ", 1)[1], b"whole")
    assert ring.stamp_of(lines[0]) is not False
    eq(lines[-1].split(b": ", 1)[1][-9:], b"next boot")
    eq(len(lines), 2)  # the torn start merged into the next line: one broken line, none lost before it


def test_pinned_segments_stay_until_unpinned():
    r = _ring()
    for i in range(200):
        r.add(1, "t", "a%d" % i)
    r.pin()
    before = [p for p, _ in r.snapshot()]
    for i in range(500):
        r.add(1, "t", "b%d" % i)
    r.flush()
    for p in before:
        os.stat(p)  # still there while an upload reads them
    r.unpin()
    eq(len(r.snapshot()), 4)


def test_reboot_continues_the_newest_segment():
    r = _ring()
    r.add(1, "t", "one")
    r.flush()
    n = len(r.snapshot())
    r = _ring(fresh=False)
    r.add(1, "t", "two")
    r.flush()
    eq(len(r.snapshot()), n)
    eq([ln.split(b": ", 1)[1] for ln in _lines(r)], [b"one", b"two"])


def test_long_line_is_cut_to_the_buffer():
    r = _ring(buf=64)
    r.add(1, "t", "x" * 500)
    r.flush()
    (ln,) = _lines(r)
    eq(len(ln), 63)
