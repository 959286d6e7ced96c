"""A development CSMS on the `ocpp` package (mobilityhouse, OCPP 2.0.1) and `websockets`.

Library use (tests, demo):

    from tools.csms.dev import CSMS
    with CSMS(boot=["Pending", "Accepted"], interval=5) as csms:   # starts on 127.0.0.1, ephemeral port
        url = csms.url                                             # ws://127.0.0.1:<port>  (station appends /<id>)
        csms.wait_for("Heartbeat")                                 # the first CALL of that action from the station
        res = csms.call("SN1", "TriggerMessage", {"requestedMessage": "Heartbeat"})  # CSMS-initiated CALL
        csms.messages("BootNotification")                          # recorded Msg objects
        assert not csms.errors()                                   # CALLERRORs the CSMS sent (schema violations)

Every frame both ways is recorded as Msg(t, station, dir, raw, msg) with dir "in" (station -> CSMS) or
"out". The `ocpp` package validates every CALL the station sends against the official schemas and answers
violations with a CALLERROR, which errors() lists. Configure responses with the constructor or attributes:
boot (status, or a list used one per BootNotification, the last one repeating), interval, delays
({action: seconds before answering}), responses ({action: payload dict or fn(payload) -> dict}).
call() raises CallError (code, description) when the station answers CALLERROR, TimeoutError without answer.
CALLs are dispatched in their own task so a slow handler never stops the CSMS from reading.

CLI: .venv/bin/python tools/csms/dev.py --port 9000 [--boot Pending,Accepted] [--interval 60]
prints a live trace of every message.
"""

import argparse
import asyncio
import base64
import datetime
import json
import logging
import threading
import time

import websockets
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.server import serve

logging.getLogger("ocpp").setLevel(logging.CRITICAL)
logging.getLogger("websockets").setLevel(logging.CRITICAL)

STATION_ACTIONS = (
    "Authorize", "BootNotification", "FirmwareStatusNotification", "Heartbeat", "LogStatusNotification",
    "MeterValues", "NotifyEvent", "NotifyReport", "SecurityEventNotification", "SignCertificate",
    "StatusNotification", "TransactionEvent",
)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CallError(Exception):
    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s" % (code, description))
        self.code = code
        self.description = description
        self.details = details


class Msg:
    __slots__ = ("t", "station", "dir", "raw", "msg")

    def __init__(self, t, station, direction, raw):
        self.t = t
        self.station = station
        self.dir = direction
        self.raw = raw
        try:
            self.msg = json.loads(raw)
        except ValueError:
            self.msg = None

    @property
    def type(self):
        return self.msg[0] if isinstance(self.msg, list) and self.msg else None

    @property
    def id(self):
        return self.msg[1] if isinstance(self.msg, list) and len(self.msg) > 1 else None

    @property
    def action(self):
        return self.msg[2] if self.type == 2 else None

    @property
    def payload(self):
        if self.type == 2:
            return self.msg[3]
        if self.type == 3:
            return self.msg[2]
        return None

    def __repr__(self):
        clock = time.strftime("%H:%M:%S", time.localtime(self.t)) + ".%03d" % (self.t % 1 * 1000)
        return "%s %s %s %s" % (clock, self.station, "->" if self.dir == "in" else "<-", self.raw)


_DEFAULTS = {
    "Authorize": lambda p: {"idTokenInfo": {"status": "Accepted"}},
    "FirmwareStatusNotification": lambda p: {},
    "LogStatusNotification": lambda p: {},
    "MeterValues": lambda p: {},
    "NotifyEvent": lambda p: {},
    "NotifyReport": lambda p: {},
    "SecurityEventNotification": lambda p: {},
    "SignCertificate": lambda p: {"status": "Accepted"},
    "StatusNotification": lambda p: {},
    "TransactionEvent": lambda p: {},
}


class _Recorder:
    # Stands between the ocpp ChargePoint and the websocket: records every frame with its time.
    def __init__(self, csms, station, ws):
        self.csms, self.station, self.ws = csms, station, ws

    async def recv(self):
        raw = await self.ws.recv()
        self.csms._record(self.station, "in", raw)
        return raw

    async def send(self, raw):
        self.csms._record(self.station, "out", raw)
        await self.ws.send(raw)


def _make_cp_class():
    class CP(ChargePoint):
        csms = None

        async def start(self):
            while True:
                raw = await self._connection.recv()
                try:
                    typ = json.loads(raw)[0]
                except (ValueError, LookupError, TypeError):
                    typ = None
                if typ == 2:  # answer CALLs in their own task: reading must go on (crossing CALLs)
                    asyncio.ensure_future(self._route(raw))
                else:
                    await self.route_message(raw)

        async def _route(self, raw):
            try:
                await self.route_message(raw)
            except websockets.ConnectionClosed:  # the station left before our answer: nothing to do
                pass

        async def _answer(self, action, kw):
            payload = snake_to_camel_case(kw)
            delay = self.csms.delays.get(action, 0)
            if delay:
                await asyncio.sleep(delay)
            return getattr(call_result, action)(**camel_to_snake_case(self.csms._response(action, payload)))

    def handler(action):
        async def h(self, **kw):
            return await self._answer(action, kw)

        h.__name__ = "on_" + action
        return on(action)(h)

    for a in STATION_ACTIONS:
        setattr(CP, "on_" + a, handler(a))
    return CP


class CSMS:
    def __init__(self, boot="Accepted", interval=300, host="127.0.0.1", port=0, ssl=None, passwords=None,
                 subprotocol="ocpp2.0.1", delays=None, responses=None, trace=False, response_timeout=30):
        self.boot = boot
        self.interval = interval
        self.host = host
        self.port = port
        self.ssl = ssl
        self.passwords = passwords  # {station_id: password}: Basic auth required when set
        self.subprotocol = subprotocol
        self.delays = dict(delays or {})
        self.responses = dict(responses or {})
        self.trace = trace
        self.response_timeout = response_timeout
        self.log = []
        self.cps = {}
        self.connects = []  # (t, station, path, headers dict)
        self.client_certs = []  # (station, DER or None) per TLS connection
        self._cond = threading.Condition()
        self._loop = None
        self._thread = None
        self._server = None
        self._cp_class = _make_cp_class()
        self._cp_class.csms = self

    # --- configuration -------------------------------------------------------------------------------

    def _response(self, action, payload):
        r = self.responses.get(action)
        if r is not None:
            return r(payload) if callable(r) else r
        if action == "BootNotification":
            if isinstance(self.boot, list):
                status = self.boot.pop(0) if len(self.boot) > 1 else self.boot[0]
            else:
                status = self.boot
            return {"currentTime": now_iso(), "interval": self.interval, "status": status}
        if action == "Heartbeat":
            return {"currentTime": now_iso()}
        return _DEFAULTS[action](payload)

    # --- recording ---------------------------------------------------------------------------------------

    def _record(self, station, direction, raw):
        m = Msg(time.time(), station, direction, raw)
        with self._cond:
            self.log.append(m)
            self._cond.notify_all()
        if self.trace:
            print(repr(m), flush=True)

    def messages(self, action=None, direction="in", station=None):
        """Recorded CALLs (direction "in": from the station), optionally of one action."""
        with self._cond:
            return [m for m in self.log if m.dir == direction and (action is None or m.action == action)
                    and m.type == 2 and (station is None or m.station == station)]

    def errors(self):
        """CALLERRORs the CSMS sent (the station sent something the schemas refuse)."""
        with self._cond:
            return [m for m in self.log if m.dir == "out" and m.type == 4]

    def wait_for(self, action, count=1, timeout=10, direction="in"):
        """Block until count CALLs of action were recorded; returns them (TimeoutError otherwise)."""
        end = time.time() + timeout
        with self._cond:
            while True:
                got = [m for m in self.log if m.dir == direction and m.type == 2 and m.action == action]
                if len(got) >= count:
                    return got
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError("%d x %s not seen in %gs; log: %r" % (count, action, timeout, self.log[-10:]))
                self._cond.wait(left)

    def wait(self, pred, timeout=10):
        """Block until pred(log) is true."""
        end = time.time() + timeout
        with self._cond:
            while not pred(self.log):
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError("condition not met in %gs" % timeout)
                self._cond.wait(left)

    # --- server ------------------------------------------------------------------------------------------

    def _process_request(self, connection, request):
        station = request.path.rstrip("/").split("/")[-1]
        self.connects.append((time.time(), station, request.path, dict(request.headers)))
        tls = connection.transport.get_extra_info("ssl_object") if self.ssl else None
        if tls is not None:  # the station's client certificate (security profile 3), DER, or None
            self.client_certs.append((station, tls.getpeercert(binary_form=True)))
        if self.passwords is not None:
            want = self.passwords.get(station)
            got = request.headers.get("Authorization", "")
            ok = want is not None and got == "Basic " + base64.b64encode(("%s:%s" % (station, want)).encode()).decode()
            if not ok:
                return connection.respond(401, "Unauthorized\n")
        return None

    async def _on_connect(self, ws):
        from urllib.parse import unquote

        station = unquote(ws.request.path.rstrip("/").split("/")[-1])
        if ws.subprotocol != self.subprotocol:
            await ws.close()
            return
        cp = self._cp_class(station, _Recorder(self, station, ws), response_timeout=self.response_timeout)
        self.cps[station] = cp
        try:
            await cp.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.cps.get(station) is cp:
                del self.cps[station]

    async def _start(self):
        sub = [self.subprotocol] if self.subprotocol else None
        self._server = await serve(self._on_connect, self.host, self.port, subprotocols=sub, ssl=self.ssl,
                                   process_request=self._process_request, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self):
        """Start the server in a background thread (its own event loop); returns self."""
        ready = threading.Event()
        err = []

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start())
            except Exception as e:  # reported to the starting thread
                err.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        if err:
            raise err[0]
        return self

    def stop(self):
        """Close every connection and the server (the port can be reused by start())."""
        if self._loop is None:
            return

        async def close():
            self._server.close()
            await self._server.wait_closed()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:  # pending calls and handlers: end them here, not in a closed loop
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None
        self.cps = {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    @property
    def url(self):
        return "%s://%s:%d" % ("wss" if self.ssl else "ws", self.host, self.port)

    def connected(self, station):
        return station in self.cps

    def wait_connected(self, station, timeout=10):
        end = time.time() + timeout
        while not self.connected(station):
            if time.time() > end:
                raise TimeoutError("%s did not connect" % station)
            time.sleep(0.02)

    def call(self, station, action, payload, timeout=10):
        """Send a CSMS-initiated CALL (from any thread) and return the CALLRESULT payload as a dict."""
        cp = self.cps[station]

        async def go():
            req = getattr(call, action)(**camel_to_snake_case(payload))
            try:
                res = await cp.call(req, suppress=False)
            except OCPPError as e:
                raise CallError(e.code, e.description, e.details) from None
            return snake_to_camel_case(remove_nones(serialize_as_dict(res)))

        return asyncio.run_coroutine_threadsafe(go(), self._loop).result(timeout)

    def send_raw(self, station, raw):
        """Send any text frame to the station (malformed-input tests)."""
        cp = self.cps[station]
        asyncio.run_coroutine_threadsafe(cp._connection.send(raw), self._loop).result(5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--boot", default="Accepted", help="status, or a comma list used one per BootNotification")
    ap.add_argument("--interval", type=int, default=60)
    a = ap.parse_args()
    boot = a.boot.split(",")
    csms = CSMS(boot=boot if len(boot) > 1 else boot[0], interval=a.interval, host=a.host, port=a.port, trace=True)
    csms.start()
    print("CSMS listening on %s/<stationId>" % csms.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        csms.stop()


if __name__ == "__main__":
    main()
