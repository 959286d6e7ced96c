# The write deadline: a peer that completes the handshake and then never reads again. Once the station's
# sends fill the TCP buffers, drain() never returns; the frame's deadline must fail the connection, so the
# writer stuck in drain, every writer queued behind it (ping, close) and the reader all end with Closed.
import asyncio

from mpt_ws_conn import serve, upgrade
from mptest import eq
from station.transport import ws

HEAP = "160K"
TIMEOUT = 30
_BIG = b"x" * 16000


async def _stuck(events):
    """A connection to a peer that never reads, with a sender task blocked in drain (kernel buffers full)."""
    peers = []

    async def handler(r, w):
        await upgrade(r, w)
        peers.append(w)  # kept open, never read
        await asyncio.sleep(25)

    srv, port = await serve(handler)
    c = await ws.connect("ws://127.0.0.1:%d/x" % port)
    c.write_timeout_ms = 300  # set before the first frame: the deadline of every frame write

    async def reader():
        try:
            await c.recv()
        except ws.Closed as e:
            events.append(("recv", str(e)))

    async def sender():
        try:
            while True:
                await c.send(_BIG)
        except ws.Closed as e:
            events.append(("send", str(e)))

    asyncio.create_task(reader())
    asyncio.create_task(sender())

    async def blocked():  # part of a frame the kernel would not take: that drain waits for the peer
        while not c._w.out_buf:
            await asyncio.sleep_ms(5)

    await asyncio.wait_for_ms(blocked(), 15000)
    assert not c.closed and not events, events
    return srv, c


async def _ended(events, n):
    while len(events) < n:
        await asyncio.sleep_ms(5)


async def test_ping_behind_a_stuck_drain_gets_closed_and_the_reader_too():
    events = []
    srv, c = await _stuck(events)
    try:
        await asyncio.wait_for_ms(c.ping(), 10000)  # queued behind the stuck frame; must not hang
    except ws.Closed as e:
        events.append(("ping", str(e)))
    await asyncio.wait_for_ms(_ended(events, 3), 10000)  # the reader is woken too, not left waiting
    assert c.closed
    kinds = [e[0] for e in events]
    eq(sorted(kinds), ["ping", "recv", "send"])
    assert kinds.index("send") < kinds.index("ping"), events  # the stuck writer fails at its deadline, then
    assert "not drained" in events[kinds.index("send")][1], events  # the one queued behind it
    srv.close()


async def test_close_behind_a_stuck_drain_ends():
    events = []
    srv, c = await _stuck(events)
    await asyncio.wait_for_ms(c.close(), 10000)  # its close frame can never be written: must not hang
    assert c.closed
    await asyncio.wait_for_ms(_ended(events, 2), 10000)
    eq(sorted(e[0] for e in events), ["recv", "send"])
    try:
        await c.ping()
    except ws.Closed:
        pass
    else:
        raise AssertionError("ping on a failed connection")
    srv.close()
