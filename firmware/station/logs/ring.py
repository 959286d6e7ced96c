# A bounded log on flash: lines "<stamp> <L> <tag>: <text>\n" appended to numbered segment files in one
# directory; when the newest segment is full a new one starts and the oldest goes (oldest dropped
# first, never more than `segs` segments). Lines collect in a RAM buffer and reach flash when it is full
# or on flush() (a timer, and before a reset), so logging costs a flash write per buffer, not per line.
#
#   r = Ring(store.sub("diag"), 16384, 4, buf=1024)   # 64 KiB in four segments
#   r.add(1, "app", "station up")    # never raises, never blocks on a failing flash
#   r.flush()
#   with r.pinned():                 # an upload reads a fixed set of segments: none is removed meanwhile
#       for name, size in r.snapshot(): ...
# An append torn by a power cut leaves at most one broken line at a segment's end; readers skip lines
# they cannot parse. A failing or full flash drops what it cannot write (counted in .lost), nothing more.
from station import clock

_NAMES = "DIWE"
_DIGITS = 8  # segment names: zero-padded numbers, so names sort as they were written


class Ring:
    def __init__(self, store, seg_size, segs=4, buf=512):
        self._st = store
        self._seg = seg_size
        self._segs = max(2, segs)  # one being written and at least one whole one behind it
        self._buf = bytearray(buf)
        self._n = 0
        self.lost = 0  # lines a failing flash could not take
        self._pins = 0
        nums = self._nums()
        self._cur = nums[-1] if nums else 1
        self._size = self._stat(self._cur)

    def _nums(self):
        out = []
        for n in self._st.names():
            if len(n) == _DIGITS and n.isdigit():
                out.append(int(n))
        out.sort()
        return out

    def _name(self, num):
        return "%08d" % num

    def _stat(self, num):
        try:
            return self._st.fs.stat(self._st.path(self._name(num)))[6]
        except OSError:
            return 0

    def add(self, lvl, tag, text):
        """Append one line (buffered). A line longer than the buffer is cut to fit it."""
        try:
            b = ("%s %s %s: %s\n" % (clock.stamp(), _NAMES[lvl], tag, text)).encode()
        except Exception:  # a text that cannot be formatted or encoded: never the caller's problem
            return
        room = len(self._buf)
        if len(b) > room:
            b = b[: room - 1] + b"\n"
        if self._n + len(b) > room:
            self.flush()
            if self._n:  # the flash did not take the buffer: this line is lost, not the older ones
                self.lost += 1
                return
        self._buf[self._n:self._n + len(b)] = b
        self._n += len(b)

    def flush(self):
        """Write the buffered lines to the newest segment (one append). False when the flash refused."""
        if not self._n:
            return True
        if self._size >= self._seg:
            self._rotate()
        try:
            with self._st.fs.open(self._st.path(self._name(self._cur)), "ab") as f:
                f.write(memoryview(self._buf)[: self._n])
        except OSError:
            # Flash full or failing: drop this buffer so the station goes on (counted, not raised).
            self.lost += self._buf[: self._n].count(b"\n")
            self._n = 0
            return False
        self._size += self._n
        self._n = 0
        return True

    def _rotate(self):
        self._cur += 1
        self._size = 0
        if self._pins:  # an upload is reading the old segments: removed after it (see unpin)
            return
        self._trim()

    def _trim(self):
        for num in self._nums():  # keep the newest `segs`, counting the one being written
            if num <= self._cur - self._segs:
                self._st.remove(self._name(num))

    def pin(self):
        self._pins += 1

    def unpin(self):
        self._pins -= 1
        if not self._pins:
            self._trim()

    def snapshot(self):
        """[(path, size)] of the segments, oldest first, as they are now (flushed first)."""
        self.flush()
        out = []
        for num in self._nums():
            out.append((self._st.path(self._name(num)), self._stat(num)))
        return out

    def clear(self):
        self._n = 0
        for num in self._nums():
            self._st.remove(self._name(num))
        self._cur += 1
        self._size = 0


def stamp_of(line):
    """The Unix time of a log line (bytes), None for a line without a real time (a marker: the clock
    was not set yet) and False for a line that does not parse (a torn append)."""
    sp = line.find(b" ")
    if sp < 1:
        return False
    ts = line[:sp].decode()
    if ts[:1] == "@":
        return None
    try:
        return clock.parse(ts)
    except (ValueError, IndexError):
        return False
