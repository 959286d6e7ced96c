# The connection to the CSMS: connect (DNS once, back-off per OCPPCommCtrlr.RetryBackOff*), one session
# per connection (the rpc read loop, registration timers, WebSocket pings), reconnect. Whatever ends a
# session, its socket is closed and triggered messages are discarded (F06.FR.09).
#
#   c = Connection(dm, rpc, registration, outbox, url, station_id, ssl=None, max_size=16384, feed=None)
#                             # ssl: a TLS context, or a function making one per connection (new trust
#                             #   anchors and client certificates count from the next connection on)
#   await c.run()             # forever
#   c.new_client()            # a new client certificate is installed: reconnect with it (profile 3), and
#                             #   c.on_trial(ok) says once whether it connected (A02.FR.10/28)
#   c.online()                # a session is up and registered: events go straight to the CSMS
#   feed()                    # the watchdog, fed around the blocking DNS look-up
# Reads SecurityCtrlr.SecurityProfile and BasicAuthPassword (from the next connection on) and
# OCPPCommCtrlr.WebSocketPingInterval.
import asyncio
import os

from station import log
from station.transport import ws as wsmod

_TAG = "conn"


def _rand(n):
    return int.from_bytes(os.urandom(2), "big") % (n + 1) if n > 0 else 0


_TRIES = 2  # failed connects with a new client certificate before the old one is taken back


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def tls(cfg, anchors=(), client=None):
    """The client TLS context of a wss:// configuration, or None. cfg["ca"]: the CSMS's CA in DER;
    anchors: more trust anchors (DER: installed CSMSRootCertificates); client: (chain PEM, key DER) for
    security profile 3, else cfg["cert"] / cfg["key"] (files) when configured."""
    if not cfg["csms"].startswith("wss:"):
        return None
    if client is None and cfg.get("cert"):
        client = (_read(cfg["cert"]), _read(cfg["key"]))
    return wsmod.tls_context([_read(cfg.get("ca"))] + list(anchors), *(client or ()))


class Connection:
    def __init__(self, dm, rpc, reg, outbox, url, station_id, ssl=None, max_size=16384, feed=None):
        self._dm = dm
        self._rpc = rpc
        self._reg = reg
        self._ob = outbox
        self.url = url.rstrip("/") + "/" + wsmod.quote(station_id)
        self._id = station_id
        self._ssl = ssl
        self._max = max_size
        self._feed = feed
        self._addr = None  # the CSMS's address, resolved once (DNS blocks the event loop)
        self.connects = 0
        self.ws = None
        self.on_trial = None
        self._trial = 0  # > 0: the client certificate is new and has not connected; failures so far + 1
        rpc.on_sent = reg.sent
        rpc.guard = reg.guard

    def new_client(self):
        if self._dm.get("SecurityCtrlr", "SecurityProfile") != 3:
            return  # stored; profiles 1 and 2 present no client certificate
        log.info(_TAG, "new client certificate: reconnecting with it")
        self._trial = 1
        if self.ws is not None:
            self.ws.abort()

    def _tried(self, ok):
        if not self._trial:
            return
        if ok or self._trial >= _TRIES:
            self._trial = 0
            if self.on_trial:
                self.on_trial(ok)
        else:
            self._trial += 1

    def online(self):
        return self._ob.state == "accepted" and self._rpc.ws is not None

    def _auth(self):
        if self._dm.get("SecurityCtrlr", "SecurityProfile") == 3:
            return None  # the client certificate identifies the station
        pw = self._dm.get("SecurityCtrlr", "BasicAuthPassword")
        return (self._id, pw) if pw else None

    def _backoff_s(self, failures):
        # RetryBackOffWaitMinimum + random(0..RandomRange), doubled up to RepeatTimes times, then kept.
        wmin = self._dm.get("OCPPCommCtrlr", "RetryBackOffWaitMinimum")
        rng = self._dm.get("OCPPCommCtrlr", "RetryBackOffRandomRange")
        rep = self._dm.get("OCPPCommCtrlr", "RetryBackOffRepeatTimes")
        return (wmin << min(failures, rep)) + _rand(rng)

    def _resolve(self):
        # getaddrinfo blocks the whole event loop (seconds on a bad network): once, with the watchdog fed
        # right before and after, and cached until a connect fails.
        if self._addr is None:
            _, host, port, _ = wsmod.parse_url(self.url)
            if self._feed:
                self._feed()
            try:
                self._addr = wsmod.resolve(host, port)
            finally:
                if self._feed:
                    self._feed()
        return self._addr

    async def run(self):
        failures = 0
        while True:
            try:
                ssl = self._ssl() if callable(self._ssl) else self._ssl
                ws = await wsmod.connect(self.url, auth=self._auth(), ssl=ssl, max_size=self._max,
                                         addr=self._resolve())
            except Exception as e:  # refused, DNS, TLS, handshake: all mean "try again later"
                self._addr = None  # the CSMS may have moved: look it up again next time
                self._tried(False)
                wait = self._backoff_s(failures)
                failures += 1
                log.warn(_TAG, "connect to %s failed: %r; retry in %d s", self.url, e, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            self._tried(True)
            self.connects += 1
            log.info(_TAG, "connected to %s", self.url)
            try:
                await self._session(ws)
            except Exception as e:  # a bug must not leak the socket nor carry triggered items over
                log.exc(_TAG, e, "session")
            finally:
                ws.abort()  # idempotent; after a bug the socket (and its TLS memory) must not leak
                self._ob.disconnected()
            wait = self._backoff_s(0)
            log.info(_TAG, "disconnected; reconnect in %d s", wait)
            await asyncio.sleep(wait)

    async def _session(self, ws):
        self.ws = ws
        tasks = []
        try:
            tasks.append(asyncio.create_task(self._rpc.serve(ws)))
            self._reg.connected()
            tasks.append(asyncio.create_task(self._reg.timers()))
            tasks.append(asyncio.create_task(ws.keepalive(self._dm.get("OCPPCommCtrlr", "WebSocketPingInterval"))))
            await tasks[0]
        finally:
            # Close the socket first: the reader ends with Closed by itself. Cancelling a task that waits
            # on the socket would drop the socket's registration under a writer still draining it.
            ws.abort()
            self.ws = None
            self._reg.disconnected()
            for t in tasks[1:]:
                t.cancel()
