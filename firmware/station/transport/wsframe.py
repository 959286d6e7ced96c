# WebSocket frames (RFC 6455) of an open connection: masked client frames with a fresh random key each,
# fragment reassembly, pong for every ping (also between fragments), client pings, close handshake with a
# timeout, a size limit checked before any payload is allocated. ws.connect() makes the WS objects.
# Every frame write has a deadline (write_timeout_ms, 0 = none): when the peer stops reading and drain()
# does not finish in time, the connection fails; that writer, every writer queued behind it and the reader
# get Closed. No data frame goes out after our close frame (RFC 6455 5.5.1).
import asyncio
import gc
import io
import json
import os
import time

from micropython import const

from station import log

_TAG = "ws"
_CONT = const(0)
_TEXT = const(1)
_BIN = const(2)
_CLOSE = const(8)
_PING = const(9)
_PONG = const(10)
_SKIP_CHUNK = const(512)
_PEEK = const(64)  # first bytes of a dropped message kept: '[2, "<36-char id>"' fits
_OUT = const(1536)  # JSON text up to this size goes straight into the preallocated frame buffer
_HEAD = const(14)  # room before that text for the longest header (10 bytes) and the key (4)
_spare = None  # the frame buffer of the last connection that ended, for the next one


class Closed(Exception):
    pass


class Dropped(Exception):
    """recv(): a text message the heap had no room for, skipped; head: its first bytes (ASCII up to the
    first other byte), enough for the RPC layer to read a CALL's id and answer it; size: its length."""

    def __init__(self, head, size):
        super().__init__(size)
        self.head = head
        self.size = size


def mask(buf, key, off=0, start=0, end=-1):
    """XOR buf[start:end] (a bytearray or a memoryview of one; end -1: its end) in place with the repeated
    4-byte key, starting at the key's byte off & 3 (a payload masked piece by piece); returns buf. Byte by
    byte, four to a turn: nothing is allocated (the big-int XOR it replaces cost 2.7 bytes of heap per byte
    masked), at about 50 ns a byte on the host."""
    if end < 0:
        end = len(buf)
    k0 = key[off & 3]
    k1 = key[(off + 1) & 3]
    k2 = key[(off + 2) & 3]
    k3 = key[(off + 3) & 3]
    i = start
    last = end - 3
    while i < last:
        buf[i] ^= k0
        buf[i + 1] ^= k1
        buf[i + 2] ^= k2
        buf[i + 3] ^= k3
        i += 4
    while i < end:
        buf[i] ^= key[(off + i - start) & 3]
        i += 1
    return buf


def _utf8(b, i, end):
    # MicroPython's json decodes an escaped surrogate pair ("\\ud83d\\ude00") into two 3-byte surrogates,
    # which are not UTF-8; echoed back (ids, names in replies) they would make our text frame invalid
    # (RFC 6455 8.1). Each such 3-byte sequence in the bytearray b[i:end] becomes U+FFFD, in place.
    i = b.find(b"\xed", i, end)
    while i >= 0:
        if i + 2 < end and 0xA0 <= b[i + 1] <= 0xBF:
            b[i : i + 3] = b"\xef\xbf\xbd"
        i = b.find(b"\xed", i + 1, end)


class _Into(io.IOBase):
    # json.dump's stream into the frame buffer, from n on. Past the buffer's end it only counts (a long
    # message's length, for its header, without a copy of its text); with ws set (the second pass over a long
    # message) every full buffer is masked and written out instead.
    def __init__(self, buf):
        self.buf = buf
        self.n = _HEAD
        self.ws = None

    def write(self, s):
        k = len(s)
        b = self.buf
        if self.ws is None:
            if self.n + k <= len(b):
                b[self.n : self.n + k] = s
            self.n += k
            return k
        mv = memoryview(s) if k > len(b) - self.n else s  # a token that spans buffers is copied in pieces
        i = 0
        while i < k:
            m = min(k - i, len(b) - self.n)
            b[self.n : self.n + m] = mv[i : i + m] if m < k else mv
            self.n += m
            i += m
            if self.n == len(b):
                self.ws._flush(True)
        return k


def close_stream(w):
    # MicroPython's StreamWriter.close() does nothing (wait_closed() closes the socket): close it here,
    # synchronously, so the peer sees the TCP close right after the close handshake.
    try:
        w.close()
        s = getattr(w, "s", None)
        if s is not None:
            s.close()
    except Exception:  # closing an already broken socket: nothing left to do
        pass


class WS:
    def __init__(self, r, w, max_size, write_timeout_ms=10000):
        self._r = r
        self._w = w
        self.max_size = max_size
        self.write_timeout_ms = write_timeout_ms  # read when the first frame is sent
        self._due = None  # ticks_ms by which the frame being written must be drained
        self._watcher = None
        self._late = None  # why the write deadline failed the connection
        self._lock = asyncio.Lock()  # one frame on the wire at a time (replies, calls and pings interleave)
        # preallocated frame: JSON messages are written into it at _HEAD, small frames copied into it. The
        # last ended connection's is reused: a reconnect into a fragmented heap needs no new 1.5 KB block.
        global _spare
        self._buf = _spare or bytearray(_HEAD + _OUT)
        _spare = None
        self._into = _Into(self._buf)
        self._key = None  # the frame being streamed (_stream): its key, bytes sent, UTF-8 fixing on
        self._off = 0
        self._fix = False
        self.closed = False
        self.close_code = None
        self.last_rx = time.ticks_ms()  # any frame from the peer proves it alive
        self._close_sent = False
        self._reading = False
        self._closed_evt = asyncio.Event()
        self._peek = bytearray(_PEEK)  # the head of a message dropped for want of memory (Dropped)
        self._npeek = 0

    def _refused(self, op):
        return self.closed or (op < 8 and self._close_sent)

    def _lost(self, why):
        self._gone()
        return Closed(why)

    def _head(self, b, i, op, n, key):
        # header and key of an n-byte payload into b at i; returns their length
        if n < 126:
            h = 2
            b[i + 1] = 0x80 | n
        elif n < 65536:
            h = 4
            b[i + 1] = 0xFE
            b[i + 2] = n >> 8
            b[i + 3] = n & 0xFF
        else:
            h = 10
            b[i + 1] = 0xFF
            for j in range(8):
                b[i + 2 + j] = (n >> (56 - 8 * j)) & 0xFF
        b[i] = 0x80 | op
        b[i + h : i + h + 4] = key
        return h + 4

    def _frame(self, op, data, at, fix):
        # A frame that fits the preallocated buffer: header and key placed right before the payload (the JSON
        # text already there, from _HEAD to at, when data is None; else data copied in), masked in place and
        # written in one piece. fix: make the payload valid UTF-8 (_utf8) before it is masked.
        b = self._buf
        key = os.urandom(4)
        if data is None:
            n = at - _HEAD
            i = _HEAD - (2 if n < 126 else 4) - 4
        else:
            n = len(data)
            i = 0
        h = self._head(b, i, op, n, key)
        if data is not None:
            b[h : h + n] = data
        if fix:
            _utf8(b, i + h, i + h + n)
        mask(b, key, 0, i + h, i + h + n)
        self._w.write(memoryview(b)[i : i + h + n])

    def _stream(self, op, n, data, obj):
        # A frame longer than the buffer, never held whole: header and key first, then the payload through the
        # buffer a bufferful at a time (data copied in, or obj's JSON written again by json.dump), each piece
        # masked in place at its offset in the payload and written. On an ESP32 a 4 KB block is what a
        # fragmented heap may not have; this needs none.
        b = self._buf
        self._key = key = os.urandom(4)
        h = self._head(b, 0, op, n, key)
        self._w.write(memoryview(b)[:h])
        self._off = 0
        self._fix = obj is not None
        w = self._into
        w.n = 0
        if obj is not None:
            w.ws = self
            try:
                json.dump(obj, w)
            finally:
                w.ws = None
        else:
            mv = memoryview(data)
            i = 0
            while i < n:
                m = min(n - i, len(b))
                b[:m] = mv[i : i + m]
                w.n = m
                i += m
                self._flush(i < n)
        if w.n:
            self._flush(False)

    def _flush(self, more):
        # write out the buffer's payload piece (b[:n]); with more to come a 3-byte sequence cut at its end
        # (see _utf8) waits for the next piece, whole
        b = self._buf
        w = self._into
        end = w.n
        keep = 0
        if self._fix and more:
            if b[end - 1] == 0xED:
                keep = 1
            elif end > 1 and b[end - 2] == 0xED:
                keep = 2
        m = end - keep
        if self._fix:
            _utf8(b, 0, m)
        mask(b, self._key, self._off, 0, m)
        self._w.write(memoryview(b)[:m])
        self._off += m
        for j in range(keep):
            b[j] = b[m + j]
        w.n = keep

    async def _send(self, op, data, obj=None):
        # obj: a JSON value to send as text (data unused): json.dump writes it straight into the buffer
        if self._refused(op):
            raise Closed(self._late or "closed")
        async with self._lock:  # the shared buffer is filled only while this frame owns the wire
            if self._refused(op):  # failed or closing while this frame waited for the wire
                raise Closed(self._late or "closed")
            try:
                if obj is not None:
                    w = self._into
                    w.n = _HEAD
                    json.dump(obj, w)  # into the buffer; a longer text is only counted
                    if w.n <= len(self._buf):
                        self._frame(op, None, w.n, True)
                    else:
                        self._stream(op, w.n - _HEAD, None, obj)
                elif len(data) + _HEAD <= len(self._buf):
                    self._frame(op, data, 0, False)
                else:
                    self._stream(op, len(data), data, None)
                if self.write_timeout_ms:
                    self._due = time.ticks_add(time.ticks_ms(), self.write_timeout_ms)
                    if self._watcher is None:
                        self._watcher = asyncio.create_task(self._watch())
                await self._w.drain()
            except OSError as e:
                raise self._lost(self._late or "write failed: %r" % e) from None
            finally:
                self._due = None

    async def _watch(self):
        # The write deadline, one task per connection. Cancelling the stuck drain instead would also drop the
        # reader's wait on the same socket (asyncio un-registers the whole stream): closing it wakes both.
        while not self.closed:
            due = self._due
            wait = self.write_timeout_ms if due is None else time.ticks_diff(due, time.ticks_ms())
            if wait <= 0:
                self._late = "write not drained in %d ms" % self.write_timeout_ms
                log.warn(_TAG, "%s: connection failed", self._late)
                self._gone()
                return
            await asyncio.sleep_ms(wait)

    async def send(self, text):
        await self._send(_TEXT, text.encode() if isinstance(text, str) else text)

    async def send_json(self, obj):
        """obj as JSON in a text frame, made valid UTF-8 (see _utf8)."""
        await self._send(_TEXT, None, obj)

    async def ping(self, data=b""):
        await self._send(_PING, data)

    async def _read(self, n):
        try:
            b = await self._r.readexactly(n)
        except (OSError, EOFError) as e:
            raise self._lost("read failed: %r" % e) from None
        if len(b) < n:
            raise self._lost("connection closed by peer")
        return b

    async def _payload(self, n):
        """n payload bytes in one buffer allocated before any byte is read, or None when the heap has no room
        for it (the bytes are then still on the wire, for _skip): a MemoryError never tears the stream."""
        try:
            buf = bytearray(n)
        except MemoryError:
            gc.collect()
            return None
        mv = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = await self._r.readinto(mv[got:])
            except (OSError, EOFError) as e:
                raise self._lost("read failed: %r" % e) from None
            if not k:
                raise self._lost("connection closed by peer")
            got += k
        return buf

    async def _header(self):
        h = await self._read(2)
        op = h[0] & 0x0F
        fin = h[0] & 0x80
        if h[0] & 0x70:
            await self._fail(1002, "reserved bits set")
        if h[1] & 0x80:
            await self._fail(1002, "masked server frame")
        n = h[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(await self._read(8), "big")
        if op >= 8 and (n > 125 or not fin):
            await self._fail(1002, "bad control frame")
        return op, fin, n

    async def _fail(self, code, why):
        # Fail the connection (RFC 6455 7.1.7): our close frame, best effort, then drop the socket.
        log.warn(_TAG, "protocol error: %s; closing %d", why, code)
        if not self._close_sent:
            self._close_sent = True
            try:
                await self._send(_CLOSE, code.to_bytes(2, "big"))
            except Closed:  # already gone: nothing to tell the peer
                pass
        self._gone()
        raise Closed(why)

    def _keep(self, data):
        # the first bytes of a dropped message, into _peek, as far as it has room
        k = self._npeek
        m = min(_PEEK - k, len(data))
        self._peek[k:k + m] = data[:m]
        self._npeek = k + m

    async def _skip(self, n, keep=False):
        while n > 0:
            k = min(n, _SKIP_CHUNK)
            data = await self._read(k)
            if keep:
                self._keep(data)
            n -= k

    def _dropped(self, size):
        # Dropped with the kept head as str: the ASCII part (an id is ASCII; a cut UTF-8 character is not)
        h = self._peek
        k = 0
        while k < self._npeek and h[k] < 0x80:
            k += 1
        self._npeek = 0
        return Dropped(bytes(h[:k]).decode(), size)

    async def _control(self, op, n):
        data = await self._read(n) if n else b""
        if op == _PING:
            await self._send(_PONG, data)
        elif op == _CLOSE:
            self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            if not self._close_sent:
                try:
                    await self._send(_CLOSE, data[:2])
                except Closed:  # the peer may already be gone; we are closing anyway
                    pass
                self._close_sent = True
            self._gone()
            raise Closed("closed by peer (%d)" % self.close_code)
        elif op != _PONG:
            await self._fail(1002, "unknown opcode %d" % op)

    async def recv(self):
        """The next complete text message as str; Dropped for one the heap had no room for."""
        self._reading = True
        try:
            return await self._recv()
        finally:
            self._reading = False

    async def _recv(self):
        parts = None
        size = 0
        dropping = False
        starved = False  # dropped for want of memory (not for its size): its head is kept
        while True:
            op, fin, n = await self._header()
            self.last_rx = time.ticks_ms()
            if op >= 8:
                await self._control(op, n)
                continue
            if op == _CONT:
                if parts is None and not dropping:
                    await self._fail(1002, "continuation without a message")
            elif parts is not None or dropping:
                await self._fail(1002, "new message inside a fragmented one")
            elif op == _BIN:
                await self._fail(1003, "binary message")
            elif op != _TEXT:
                await self._fail(1002, "unknown opcode %d" % op)
            else:
                parts = []
                size = 0
            size += n
            part = None
            if dropping:
                pass
            elif size > self.max_size:  # checked before reading: a refused message is never allocated
                log.warn(_TAG, "message over %d bytes refused", self.max_size)
            else:
                part = await self._payload(n) if n else b""
                if part is None:
                    log.warn(_TAG, "no memory for a %d-byte message: dropped", size)
                    starved = True  # _npeek is 0 here: _dropped() leaves it so
                    if parts:
                        self._keep(parts[0])
            if part is None:  # dropped, the rest of it skipped; the link lives on
                dropping = True
                parts = None
                await self._skip(n, starved)
                if fin:
                    dropping = False
                    if starved:  # answered by the RPC layer (InternalError), as one it cannot parse
                        raise self._dropped(size) from None
                    size = 0
                continue
            parts.append(part)
            if fin:
                try:
                    data = parts[0] if len(parts) == 1 else b"".join(parts)
                    parts = None
                    return data.decode()
                except UnicodeError:
                    await self._fail(1007, "text message is not UTF-8")
                except MemoryError:  # joining the parts, or the str of the whole
                    self._keep(data if parts is None else parts[0])
                    parts = data = None
                    gc.collect()
                    log.warn(_TAG, "no memory to assemble a %d-byte message: dropped", size)
                    raise self._dropped(size) from None

    async def close(self, code=1000, timeout_ms=3000):
        """Close handshake: send our close frame, wait for the peer's (bounded), then drop the socket."""
        if self.closed:
            return
        if not self._close_sent:
            self._close_sent = True
            try:
                await self._send(_CLOSE, code.to_bytes(2, "big"))
            except Closed:
                return
        try:
            if self._reading:  # the reader task sees the peer's close frame and ends the connection
                await asyncio.wait_for_ms(self._closed_evt.wait(), timeout_ms)
            else:
                await asyncio.wait_for_ms(self._await_close(), timeout_ms)
        except asyncio.TimeoutError:
            log.warn(_TAG, "no close frame from the peer within %d ms", timeout_ms)
        except Closed:  # the peer's close frame or EOF: what we waited for
            pass
        self._gone()

    async def _await_close(self):
        # Reads and discards until the peer's close frame arrives (recv() raises Closed then).
        while not self.closed:
            op, fin, n = await self._header()
            if op == _CLOSE:
                await self._control(op, n)
            else:
                await self._skip(n)

    def abort(self):
        """Drop the connection now, without a close handshake: every reader and writer gets Closed."""
        self._gone()

    def _gone(self):
        global _spare
        if not self.closed:
            self.closed = True
            if not self._lock.locked():  # no frame is being built in the buffer, and none will be (closed)
                _spare = self._buf
            close_stream(self._w)
            self._closed_evt.set()
            t = self._watcher
            if t is not None and t is not asyncio.current_task():
                t.cancel()

    async def keepalive(self, interval_s, timeout_s=None):
        """Ping every interval_s (WebSocketPingInterval; 0 = off); close when the peer stays silent too long."""
        if interval_s <= 0:
            return
        limit = (timeout_s or 2 * interval_s) * 1000 + interval_s * 1000
        while not self.closed:
            await asyncio.sleep(interval_s)
            if self.closed:
                return
            if time.ticks_diff(time.ticks_ms(), self.last_rx) > limit:
                log.warn(_TAG, "peer silent for %d s: closing", limit // 1000)
                await self.close(1001, 1000)
                return
            try:
                await self.ping()
            except Closed:
                return
