# GetLog's reader (logs/getlog.py _Source): what it counts first is exactly what it then sends, whatever the
# chunk size; bounds keep whole lines by time; marker lines take the time before them; torn lines go.
from flash import rmtree
from mptest import eq
from station import clock
from station.logs import getlog
from station.logs.ring import Ring
from station.store import Store

HEAP = "64K"
_ROOT = "/tmp/mpt_getlog"


def _segs():
    rmtree(_ROOT)
    st = Store(_ROOT)
    r = Ring(st, 600, 4, 128)  # 4 segments of the 40 lines: nothing dropped
    t0 = clock.parse("2026-01-01T00:00:00Z")
    lines = []
    for i in range(40):
        if i == 10:
            lines.append(b"@abcd:12 I t: marker %d\n" % i)  # logged before the clock was set
        elif i == 20:
            lines.append(b"2026-01-01T00:0")  # torn: the next line's start follows it
            lines.append(b"2026-01-01T00:00:%02dZ I t: after torn %d\n" % (i, i))
        else:
            lines.append(b"2026-01-01T00:00:%02dZ I t: line %d\n" % (i, i))
    for ln in lines:  # straight into the segments, as flushes would leave them
        r._buf[: len(ln)] = ln
        r._n = len(ln)
        r.flush()
    return r.snapshot(), t0


def _read(segs, lo, hi, n):
    src = getlog._Source(segs, lo, hi)
    buf = bytearray(n)
    out = b""
    while True:
        k = src(buf)
        if not k:
            break
        out += bytes(buf[:k])
    src.close()
    return out


def test_counted_size_is_what_is_sent_for_any_chunk():
    segs, t0 = _segs()
    for lo, hi in ((None, None), (t0 + 5, None), (None, t0 + 15), (t0 + 8, t0 + 30)):
        ref = _read(segs, lo, hi, 1000)
        for n in (7, 64, 513):
            eq(getlog._size(segs, lo, hi, bytearray(n)), len(ref))
            eq(_read(segs, lo, hi, n), ref)


def test_bounds_keep_lines_by_time():
    segs, t0 = _segs()
    got = _read(segs, t0 + 8, t0 + 25, 64).decode().split("\n")[:-1]
    texts = [g.split(": ", 1)[1] for g in got]
    eq(texts[0], "line 8")
    assert "marker 10" in texts  # between line 9 and line 11: it takes line 9's time
    assert not [t for t in texts if "after torn" in t]  # the torn line swallowed its successor's start
    eq(texts[-1], "line 25")
    assert all(g[:1] in "2@" for g in got)
    whole = _read(segs, None, None, 64)
    assert b"after torn" in whole  # no bounds: the segments as they are
