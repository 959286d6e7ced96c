# ws.connect + WS over a real loopback socket inside one MicroPython process: concurrent senders never mix
# frames, and close() gives up after its timeout when the peer never answers the close frame.
import asyncio
import binascii
import hashlib
import os

from mptest import eq
from station.transport import net, ws

HEAP = "128K"
TIMEOUT = 20


async def serve(handler):
    # MicroPython's Server does not tell its port: try random high ports until one is free.
    while True:
        port = 30000 + int.from_bytes(os.urandom(2), "big") % 30000
        try:
            srv = await asyncio.start_server(handler, "127.0.0.1", port)
            return srv, port
        except OSError:
            pass


async def upgrade(r, w):
    key = None
    while True:
        line = await r.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    acc = binascii.b2a_base64(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).strip()
    w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + acc + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
    await w.drain()


async def read_frame(r):
    h = await r.readexactly(2)
    n = h[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await r.readexactly(2), "big")
    key = await r.readexactly(4)
    return h[0] & 0x0F, ws.mask(bytearray(await r.readexactly(n)), key)


async def test_concurrent_senders_never_interleave_frames():
    got = []
    done = asyncio.Event()
    msgs = ["m%d:" % i + "x" * (i * 37 % 700) for i in range(30)]

    async def handler(r, w):
        await upgrade(r, w)
        while len(got) < len(msgs):
            op, data = await read_frame(r)
            got.append((op, bytes(data).decode()))
        done.set()

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    for m in msgs:  # every send in its own task, all at once: small ones share the preallocated buffer
        asyncio.create_task(c.send(m))
    await asyncio.wait_for_ms(done.wait(), 5000)
    eq(sorted(got), sorted((1, m) for m in msgs))
    srv.close()


async def test_close_gives_up_when_the_peer_never_answers():
    seen = []

    async def handler(r, w):
        await upgrade(r, w)
        seen.append(await read_frame(r))
        await asyncio.sleep(5)  # never answers the close frame

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    import time

    t = time.ticks_ms()
    await c.close(1000, timeout_ms=300)
    dt = time.ticks_diff(time.ticks_ms(), t)
    assert c.closed and 250 <= dt < 1500, dt
    eq(seen[0][0], 8)
    eq(bytes(seen[0][1]), b"\x03\xe8")
    srv.close()


async def _dropped_then_hello(handler, head, size):
    # the server's big message raises Dropped with its head and size; the next one, "hello", still arrives
    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port, max_size=1 << 20)
    try:
        await asyncio.wait_for_ms(c.recv(), 5000)
        raise AssertionError("the big message was not dropped")
    except ws.Dropped as d:
        eq(d.head, head)
        eq(d.size, size)
    eq(await asyncio.wait_for_ms(c.recv(), 5000), "hello")  # the big one skipped, the stream still in step
    srv.close()


async def test_message_too_big_for_the_heap_is_dropped_with_its_head_and_the_link_lives_on():
    head = b'[2, "big-1", "SetVariables", {"x": "\xc3\xa9'  # an id to answer, then a non-ASCII byte
    chunk = b"[" * 4096
    n = len(head) + 48 * len(chunk)  # 196 KB: allowed by max_size, but more than this heap can hold at once

    async def handler(r, w):
        await upgrade(r, w)
        w.write(b"\x01\x7f" + len(head).to_bytes(8, "big") + head)  # a first fragment, 64-bit length
        w.write(b"\x80\x7f" + (n - len(head)).to_bytes(8, "big"))  # the last one: the whole is too big
        for _ in range(48):
            w.write(chunk)
            await w.drain()
        w.write(b"\x81\x05hello")
        await w.drain()
        await asyncio.sleep(2)

    await _dropped_then_hello(handler, '[2, "big-1", "SetVariables", {"x": "', n)  # ASCII up to the é


async def test_a_call_the_heap_cannot_hold_is_answered_internal_error_by_its_id():
    # the RPC layer over the real connection: the CSMS gets an answer, not a timeout, and the link goes on
    import json

    from station.transport.rpc import Rpc

    got = []
    done = asyncio.Event()
    head = b'[2, "big-2", "SetVariables", {"setVariableData": '
    n = len(head) + 48 * 4096  # 196 KB: more than this heap can hold at once

    async def handler(r, w):
        await upgrade(r, w)
        w.write(b"\x81\x7f" + n.to_bytes(8, "big") + head)
        for _ in range(48):
            w.write(b"[" * 4096)
            await w.drain()
        w.write(b'[2, "small-3", "Heartbeat", {}]'.join((b"\x81\x1f", b"")))  # then a small CALL
        await w.drain()
        for _ in range(2):
            got.append(json.loads(bytes((await read_frame(r))[1])))
        done.set()

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port, max_size=1 << 20)
    rpc = Rpc(timeout_s=1)
    rpc.on("Heartbeat", lambda p: {"currentTime": "2026-01-01T00:00:00Z"})
    task = asyncio.create_task(rpc.serve(c))
    await asyncio.wait_for_ms(done.wait(), 10000)
    eq(got[0][:3], [4, "big-2", "InternalError"])
    eq(got[1][:2], [3, "small-3"])
    task.cancel()
    srv.close()


async def test_a_message_whose_text_finds_no_room_after_its_bytes_is_dropped_with_its_head():
    # the frame's bytes fit, the str made of them does not: dropped all the same, its id kept
    import gc

    gc.collect()
    n = gc.mem_free() * 2 // 5  # once fits, twice does not
    head = b'[2, "big-4", "SetVariables", {"p": "'

    async def handler(r, w):
        await upgrade(r, w)
        w.write(b"\x81\x7f" + n.to_bytes(8, "big") + head + b"x" * (n - len(head)))
        w.write(b"\x81\x05hello")
        await w.drain()
        await asyncio.sleep(2)

    await _dropped_then_hello(handler, (head + b"x" * 64)[:64].decode(), n)


async def test_no_data_frame_goes_out_after_our_close_frame():
    seen = []
    ended = asyncio.Event()

    async def handler(r, w):
        await upgrade(r, w)
        try:
            while True:  # reads everything, never answers the close frame
                seen.append((await read_frame(r))[0])
        except EOFError:
            ended.set()

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    closing = asyncio.create_task(c.close(1000, timeout_ms=500))
    while not seen:
        await asyncio.sleep_ms(5)
    eq(seen, [8])
    try:
        await c.send("late")  # RFC 6455 5.5.1: nothing after the close frame; the link is closing
    except ws.Closed:
        pass
    else:
        raise AssertionError("a text frame was sent after the close frame")
    await closing
    await asyncio.wait_for_ms(ended.wait(), 5000)  # the close timed out and dropped the socket
    eq(seen, [8])
    srv.close()


async def test_connect_with_addr_given_does_not_resolve_again():
    async def handler(r, w):
        await upgrade(r, w)
        await asyncio.sleep(3)

    srv, port = await serve(handler)
    real = net.socket
    calls = []

    class Counting:  # the socket module as ws.py sees it (net.py opens its sockets), counting name look-ups
        SOCK_STREAM = real.SOCK_STREAM
        socket = real.socket

        def getaddrinfo(*a):  # taken off the class: a plain function
            calls.append(a[0])
            return real.getaddrinfo(*a)

    net.socket = Counting
    try:
        addr = ws.resolve("localhost", port)
        eq(calls, ["localhost"])
        for _ in range(2):
            c = await ws.connect("ws://localhost:%d/x" % port, addr=addr)
            assert not c.closed
            ws.close_stream(c._w)
        eq(calls, ["localhost"])  # no look-up from connect
        await ws.connect("ws://localhost:%d/x" % port)  # without addr connect resolves, through the same module
        eq(calls, ["localhost", "localhost"])
    finally:
        net.socket = real
        srv.close()
