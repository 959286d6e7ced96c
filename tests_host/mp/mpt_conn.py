# session/connection.py over a real loopback socket (a minimal WebSocket server in this process): what the connection
# task does when something unexpected happens inside a session, and the blocking DNS look-up.
import asyncio

from mptest import eq
from station.transport import ws as wsmod
from station.session.connection import Connection
from station.session.registration import Registration
from station.transport.rpc import Rpc
from station.model.device_model import DeviceModel
from station.session.outbox import Outbox

HEAP = "128K"
TIMEOUT = 30
_CS = {"model": "T", "vendorName": "V"}
_FAST = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 0, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
         "OCPPCommCtrlr.WebSocketPingInterval": 0}


class Server:
    # Accepts WebSocket upgrades (RFC 6455 handshake) and then only counts bytes until the client closes.
    def __init__(self):
        self.connects = 0
        self.eofs = 0
        self.ev = asyncio.Event()

    async def start(self, port=0):
        self.srv = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self.srv.server.getsockname()[1] if hasattr(self.srv, "server") else port
        return self

    async def _client(self, r, w):
        key = None
        while True:
            line = await r.readline()
            if not line or line == b"\r\n":
                break
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + wsmod.accept_key(key) + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
        await w.drain()
        self.connects += 1
        self.ev.set()
        while await r.read(512):
            pass
        self.eofs += 1  # the station closed its socket
        self.ev.set()
        w.close()
        await w.wait_closed()

    async def until(self, pred, ms=5000):
        for _ in range(ms // 10):
            if pred():
                return
            self.ev.clear()
            try:
                await asyncio.wait_for_ms(self.ev.wait(), 10)
            except asyncio.TimeoutError:
                pass
        raise AssertionError("condition not met in time")

    def close(self):
        self.srv.close()


_PORT = 18931


def _conn(port, feed=None):
    dm = DeviceModel(initial=_FAST)
    rpc = Rpc(dm)
    ob = Outbox(rpc, dm)
    reg = Registration(dm, ob, _CS)
    return Connection(dm, rpc, reg, ob, "ws://localhost:%d/ocpp" % port, "CS1", feed=feed), rpc, ob


async def test_a_bug_inside_the_session_closes_the_socket_and_drops_triggered_items():
    srv = await Server().start(_PORT)
    conn, rpc, ob = _conn(_PORT)
    got = []

    async def buggy_serve(ws):
        ob.put("Heartbeat", {}, triggered=True, on_result=got.append)
        await asyncio.sleep_ms(20)
        raise RuntimeError("a bug")

    rpc.serve = buggy_serve
    task = asyncio.create_task(conn.run())
    try:
        await srv.until(lambda: srv.eofs >= 1)  # the socket was closed, not leaked
        eq(got, [None])  # the triggered item was discarded with its callback (F06.FR.09)
        eq([i.action for i in ob.items if i.triggered and i.action != "BootNotification"], [])
        await srv.until(lambda: srv.connects >= 2)  # and the connection task lives on: it reconnects
    finally:
        task.cancel()
        srv.close()


async def test_dns_once_with_the_watchdog_fed_around_it():
    srv = await Server().start(_PORT + 1)
    calls = []
    real = wsmod.resolve

    def resolve(host, port):
        calls.append("resolve " + host)
        if calls.count("resolve " + host) == 1:  # the first answer is stale: nothing listens there
            return real(host, _PORT + 2)
        return real(host, port)

    wsmod.resolve = resolve
    conn, rpc, ob = _conn(_PORT + 1, feed=lambda: calls.append("feed"))

    async def short_serve(ws):  # every session ends at once: the station reconnects
        await asyncio.sleep_ms(5)

    rpc.serve = short_serve
    task = asyncio.create_task(conn.run())
    try:
        await srv.until(lambda: srv.connects >= 3)
        # a failed connect looks the name up again; then three connections on one look-up
        eq(calls, ["feed", "resolve localhost", "feed", "feed", "resolve localhost", "feed"])
    finally:
        wsmod.resolve = real
        task.cancel()
        srv.close()
