# The opening handshake's response is read with bounds: a server sending an endless line or header must
# give HandshakeError (not a MemoryError after eating the heap), and nothing after the header's end may be
# consumed, since the server's first frame can come in the same TCP segment as the 101 response.
import asyncio

from mpt_ws_conn import serve
from mptest import eq
from station.transport import ws

HEAP = "96K"
TIMEOUT = 20
_OK = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


async def _key(r):
    key = None
    while True:
        line = await r.readline()
        if line in (b"\r\n", b""):
            return key
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()


def _head(key, extra=b""):
    return (_OK + extra + b"Sec-WebSocket-Accept: " + ws.accept_key(key) + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1"
            b"\r\n\r\n")


async def _refused(handler):
    srv, port = await serve(handler)
    try:
        await ws.connect("ws://127.0.0.1:%d/x" % port)
    except ws.HandshakeError as e:
        return str(e)
    finally:
        srv.close()
    raise AssertionError("connected")


def _endless(first):
    async def handler(r, w):
        await _key(r)
        w.write(first)
        chunk = b"a" * 512
        try:
            while True:  # no newline, ever
                w.write(chunk)
                await w.drain()
        except OSError:  # the station hung up
            pass
    return handler


async def test_endless_status_line_is_refused():
    eq(await _refused(_endless(b"HTTP/1.1 101 ")), "response header too long")


async def test_endless_header_line_is_refused():
    eq(await _refused(_endless(_OK + b"X-Pad: ")), "response header too long")


async def test_endless_headers_are_refused():
    async def handler(r, w):
        await _key(r)
        w.write(_OK)
        try:
            while True:
                w.write(b"X-Pad: 1\r\n")
                await w.drain()
        except OSError:
            pass

    eq(await _refused(handler), "too many response headers")


async def test_a_header_over_8k_in_total_is_refused():
    async def handler(r, w):
        key = await _key(r)
        w.write(_OK)
        try:
            for _ in range(12):  # 12 lines of 900 bytes: each within 1 KiB and the count, 11 KB in all
                w.write(b"X-Pad: " + b"p" * 891 + b"\r\n")
                await w.drain()
            w.write(_head(key)[len(_OK):])
            await w.drain()
        except OSError:  # the station hung up
            return
        await asyncio.sleep(2)

    eq(await _refused(handler), "response header too long")


async def test_long_header_lines_within_the_bounds_are_accepted():
    async def handler(r, w):
        key = await _key(r)
        w.write(_head(key, b"Set-Cookie: " + b"c" * 1000 + b"\r\n"))  # 1014 bytes with CRLF: under 1 KiB
        await w.drain()
        await asyncio.sleep(2)

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    assert not c.closed
    srv.close()


async def test_a_frame_in_the_same_segment_as_the_101_is_received():
    async def handler(r, w):
        key = await _key(r)
        w.write(_head(key) + b"\x81\x05hello" + b"\x81\x05world")  # one write: one segment on loopback
        await w.drain()
        await asyncio.sleep(2)

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    eq(await asyncio.wait_for_ms(c.recv(), 5000), "hello")
    eq(await asyncio.wait_for_ms(c.recv(), 5000), "world")
    srv.close()
