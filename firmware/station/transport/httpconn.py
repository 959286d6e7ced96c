# The connection side of the HTTP client (http.py has the API and the requests): a socket with a
# deadline, the response header read with bounds, the body streamed through the caller's buffer in both
# directions (Content-Length, chunked, or up to EOF); a body cut short is an error, never success.
import asyncio
from time import ticks_diff, ticks_ms

from micropython import const

from station.transport import net

_LINE = const(2048)  # longest response line: a redirect's Location may be a long signed URL
_HEAD = const(8192)  # the whole response header
_HEADERS = const(64)


class HttpError(Exception):
    """status: the server's final non-2xx status, or None for a transport failure (DNS, connect, TLS,
    timeout, reset, a bad or cut response); reason: text for the log."""

    def __init__(self, status, reason):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


def _tls(e):
    # mbedtls reports a refused certificate (and other TLS failures) as ValueError, not OSError.
    return HttpError(None, "TLS: " + " ".join(str(e).split()))


class Conn:
    # One request's socket and its deadline. One watchdog task per request, not wait_for_ms per read: that
    # would allocate a task for every chunk. Only waits for the peer count (busy), never the caller's sink.
    def __init__(self, ms):
        self.s = None
        self.ms = ms
        self.at = 0
        self.busy = False
        self.late = False
        self.task = asyncio.current_task()
        self.dog = asyncio.create_task(self._watch())

    async def _watch(self):
        while True:
            left = self.ms
            if self.busy:
                left -= ticks_diff(ticks_ms(), self.at)
                if left <= 0:
                    self.late = True
                    self.task.cancel()
                    return
            await asyncio.sleep_ms(left)

    def wait(self, s, write):
        self.at = ticks_ms()
        self.busy = True
        yield from net.io(s, write)
        self.busy = False

    async def send(self, data):
        mv = memoryview(data)
        while len(mv):
            try:
                n = self.s.write(mv)
            except ValueError as e:
                raise _tls(e) from None
            if n is None:  # socket (or TLS) buffer full: wait
                await self.wait(self.s, True)
            else:
                mv = mv[n:]

    async def line(self, room):
        try:
            line = await net.readline(self.s, room, self.wait)
        except ValueError as e:
            raise _tls(e) from None
        if line[-1:] != b"\n":
            raise HttpError(None, "response line too long" if len(line) >= room else "connection closed")
        return line

    def close(self):
        self.dog.cancel()
        if self.s is not None:
            self.s.close()


async def call(f, arg):
    # The caller's sink or source: a plain function, or one returning an awaitable.
    r = f(arg)
    if r is not None and not isinstance(r, int):
        r = await r
    return r


async def head(c):
    # (status, reason, length or -1, chunked, location) of the final answer; 1xx interim answers skipped.
    left = _HEAD
    while True:
        line = await c.line(min(_LINE, left))
        left -= len(line)
        p = line.split(None, 2)
        try:
            if not p[0].startswith(b"HTTP/"):
                raise ValueError
            status = int(p[1])
            reason = p[2].strip().decode() if len(p) > 2 else ""
        except (IndexError, ValueError, UnicodeError):
            raise HttpError(None, "bad status line") from None
        length, chunked, loc = -1, False, None
        for _ in range(_HEADERS + 1):
            line = await c.line(min(_LINE, left))
            left -= len(line)
            line = line.strip()
            if not line:
                break
            i = line.find(b":")
            k, v = line[:i].strip().lower(), line[i + 1 :].strip()
            try:
                if k == b"content-length":
                    length = int(v)
                elif k == b"transfer-encoding":
                    chunked = b"chunked" in v.lower()
                elif k == b"location":
                    loc = v.decode()
            except (ValueError, UnicodeError):
                raise HttpError(None, "bad header") from None
        else:
            raise HttpError(None, "too many response headers")
        if status >= 200:
            return status, reason, length, chunked, loc


async def _take(c, sink, mv, k, n):
    # n body bytes (n < 0: up to EOF) into mv after its k waiting bytes; the sink gets each full buffer.
    # Returns how many bytes are left waiting. Inline, not through Conn methods: no coroutine per read.
    size = len(mv)
    s = c.s
    while n:
        room = size - k
        if 0 < n < room:
            room = n
        try:  # read before waiting: TLS may hold decrypted bytes that polling the socket does not show
            got = s.readinto(mv if room == size else mv[k : k + room])
        except ValueError as e:
            raise _tls(e) from None
        if got is None:
            await c.wait(s, False)
            continue
        if not got:
            if n < 0:
                return k
            raise HttpError(None, "body cut %d bytes short" % n)
        k += got
        if n > 0:
            n -= got
        if k == size:
            r = sink(mv)
            if r is not None and not isinstance(r, int):
                await r
            k = 0
            await asyncio.sleep_ms(0)  # data may keep coming without a wait: let the other tasks run
    return k


async def body(c, sink, mv, length, chunked):
    k = 0
    if chunked:
        while True:
            line = await c.line(_LINE)
            try:
                n = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(None, "bad chunk size") from None
            if n <= 0:
                break
            k = await _take(c, sink, mv, k, n)
            if (await c.line(_LINE)).strip():
                raise HttpError(None, "bad chunk end")
        for _ in range(_HEADERS + 1):  # trailer fields, up to the empty line
            if not (await c.line(_LINE)).strip():
                break
    else:
        k = await _take(c, sink, mv, k, length)
    if k:
        await call(sink, mv[:k])


async def send(c, src, size, mv):
    # size bytes of the file, read by src into mv and written out. Inline, as _take: no coroutine per chunk.
    left = size
    s = c.s
    while left:
        m = mv if left >= len(mv) else mv[:left]
        n = src(m)
        if n is not None and not isinstance(n, int):
            n = await n
        if not n:
            raise HttpError(None, "file ended %d bytes early" % left)
        n = min(n, len(m))
        off = 0
        while off < n:
            try:
                w = s.write(m if off == 0 and n == len(m) else m[off:n])
            except ValueError as e:
                raise _tls(e) from None
            if w is None:  # socket (or TLS) buffer full
                await c.wait(s, True)
            else:
                off += w
        left -= n
        await asyncio.sleep_ms(0)
