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
_OUT = const(1536)  # JSON text up to this size goes straight into the preallocated frame buffer
_HEAD = const(14)  # room before that text for the longest header (10 bytes) and the key (4)
_spare = None  # the frame buffer of the last connection that ended, for the next one
_CHUNK = const(256)  # bytes masked per big-int XOR


class Closed(Exception):
    pass


def mask(buf, key):
    """XOR buf (a bytearray or a memoryview of one) with the repeated 4-byte key, in place; returns buf.
    Chunks of _CHUNK bytes go through one big-int XOR each (C speed on every port, no viper: the .mpy is
    built for the ESP32), so the transient objects stay a few hundred bytes whatever the frame's size; the
    tail goes byte by byte."""
    n = len(buf)
    mv = memoryview(buf)
    i = 0
    if n >= _CHUNK:
        k = int.from_bytes(key * (_CHUNK // 4), "big")
        while i + _CHUNK <= n:  # i stays a multiple of 4: the key lines up in every chunk
            mv[i : i + _CHUNK] = (int.from_bytes(mv[i : i + _CHUNK], "big") ^ k).to_bytes(_CHUNK, "big")
            i += _CHUNK
    while i < n:
        buf[i] ^= key[i & 3]
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


class _Full(Exception):
    pass


class _Into(io.IOBase):
    # json.dump's stream: appends to the frame buffer from n on; _Full when the text does not fit
    def __init__(self, buf):
        self.buf = buf
        self.n = _HEAD

    def write(self, s):
        k = len(s)
        if self.n + k > len(self.buf):
            raise _Full()
        self.buf[self.n : self.n + k] = s
        self.n += k
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
        self.closed = False
        self.close_code = None
        self.last_rx = time.ticks_ms()  # any frame from the peer proves it alive
        self._close_sent = False
        self._reading = False
        self._closed_evt = asyncio.Event()

    def _refused(self, op):
        return self.closed or (op < 8 and self._close_sent)

    def _lost(self, why):
        self._gone()
        return Closed(why)

    def _frame(self, op, data, at, fix):
        # Header and key placed right before the payload, and the payload masked in place: the JSON text
        # already in the preallocated buffer (data None; it runs from _HEAD to at), a small frame copied into
        # it, a big one in a single copy of its own, which goes out after header and key. fix: make the
        # payload valid UTF-8 (_utf8) before it is masked. Never a
        # concatenated frame: on an ESP32 each extra copy of a 4 KB message is a contiguous block a
        # fragmented heap may not have. Returns the parts to write.
        b = self._buf
        n = at - _HEAD if data is None else len(data)
        if n < 126:
            h = 2
        elif n < 65536:
            h = 4
        else:
            h = 10
        key = os.urandom(4)
        if data is None or h + 4 + n <= len(b):
            i = _HEAD - h - 4 if data is None else 0
            body = memoryview(b)[i + h + 4 : i + h + 4 + n]
            if data is not None:
                body[:] = data
            if fix:
                _utf8(b, i + h + 4, i + h + 4 + n)
            parts = (memoryview(b)[i : i + h + 4 + n],)
        else:
            i = 0
            body = bytearray(data)
            if fix:
                _utf8(body, 0, n)
            parts = (memoryview(b)[: h + 4], body)
        b[i] = 0x80 | op
        if h == 2:
            b[i + 1] = 0x80 | n
        elif h == 4:
            b[i + 1] = 0xFE
            b[i + 2 : i + 4] = n.to_bytes(2, "big")
        else:
            b[i + 1] = 0xFF
            b[i + 2 : i + 10] = n.to_bytes(8, "big")
        b[i + h : i + h + 4] = key
        mask(body, key)
        return parts

    async def _send(self, op, data, obj=None):
        # obj: a JSON value to send as text (data unused): json.dump writes it straight into the buffer
        if self._refused(op):
            raise Closed(self._late or "closed")
        async with self._lock:  # the shared buffer is filled only while this frame owns the wire
            if self._refused(op):  # failed or closing while this frame waited for the wire
                raise Closed(self._late or "closed")
            parts = None
            if obj is not None:
                w = self._into
                w.n = _HEAD
                try:
                    json.dump(obj, w)
                    parts = self._frame(op, None, w.n, True)
                except _Full:  # longer than the buffer: as text of its own
                    data = json.dumps(obj).encode()
            if parts is None:
                parts = self._frame(op, data, 0, obj is not None)
            try:
                for x in parts:
                    self._w.write(x)
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

    async def _skip(self, n):
        while n > 0:
            k = min(n, _SKIP_CHUNK)
            await self._read(k)
            n -= k

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
        """The next complete text message as str."""
        self._reading = True
        try:
            return await self._recv()
        finally:
            self._reading = False

    async def _recv(self):
        parts = None
        size = 0
        dropping = False
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
            if part is None:  # dropped, the rest of it skipped; the link lives on
                dropping = True
                parts = None
                await self._skip(n)
                if fin:
                    dropping = False
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
                except MemoryError:
                    parts = None
                    gc.collect()
                    log.warn(_TAG, "no memory to assemble a %d-byte message: dropped", size)
                    size = 0

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
