"""A raw WebSocket server (RFC 6455 written out by hand) that audits every frame the station sends.

It answers the station's CALLs itself (BootNotification Accepted, Heartbeat, StatusNotification), checks every
CALL payload against the official schema in schemas/ with jsonschema, and lets a test send any frame.
Handshake faults to inject: accept="wrong", protocol=None (no subprotocol selected)."""

import asyncio
import base64
import datetime
import hashlib
import json
import os
import struct
import time

import jsonschema

from tools import ROOT

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_validators = {}


def schema_errors(action, payload, kind="Request"):
    name = action + kind
    if name not in _validators:
        with open(os.path.join(ROOT, "schemas", name + ".json")) as f:
            _validators[name] = jsonschema.Draft6Validator(json.load(f), format_checker=jsonschema.FormatChecker())
    return list(_validators[name].iter_errors(payload))


def frame(op, payload=b"", fin=True, mask=False, rsv=0):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | rsv << 4 | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        hdr += key
    return hdr + payload


class Frame:
    def __init__(self, fin, rsv, op, masked, key, data):
        self.fin, self.rsv, self.op, self.masked, self.key, self.data = fin, rsv, op, masked, key, data

    def __repr__(self):
        return "Frame(op=%d fin=%d masked=%d %r)" % (self.op, self.fin, self.masked, self.data[:60])


async def read_frame(r):
    h = await r.readexactly(2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", await r.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await r.readexactly(8))[0]
    masked = bool(h[1] & 0x80)
    key = await r.readexactly(4) if masked else None
    data = await r.readexactly(n)
    if masked:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return Frame(bool(h[0] & 0x80), (h[0] >> 4) & 7, h[0] & 0x0F, masked, key, data)


class AuditServer:
    def __init__(self, accept="right", protocol="ocpp2.0.1", ssl=None, answer=True, pong=True):
        self.accept = accept
        self.protocol = protocol
        self.ssl = ssl
        self.answer = answer  # answer the station's CALLs automatically
        self.pong = pong  # answer the station's pings
        self.conn_times = []  # time.monotonic() of every TCP connection
        self._calls = {}  # id -> action of our CALLs, to check the station's CALLRESULT against its schema
        self.frames = []  # every frame from the station, in order
        self.messages = []  # complete text messages from the station, parsed
        self.violations = []  # schema violations in the station's CALLs
        self.requests = []  # HTTP upgrade requests (raw header bytes)
        self.connections = 0
        self.writer = None
        self._new_msg = asyncio.Condition()
        self.closed = asyncio.Event()

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("wss" if self.ssl else "ws", self.port)

    async def stop(self):
        self.server.close()
        if self.writer:
            self.writer.close()

    async def _handle(self, r, w):
        self.connections += 1
        self.conn_times.append(time.monotonic())
        try:
            head = await r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        self.requests.append(head)
        hdr = {}
        for line in head.split(b"\r\n")[1:]:
            if b":" in line:
                k, v = line.split(b":", 1)
                hdr[k.strip().lower()] = v.strip()
        acc = base64.b64encode(hashlib.sha1(hdr[b"sec-websocket-key"] + GUID).digest())
        if self.accept == "wrong":
            acc = base64.b64encode(hashlib.sha1(b"x" + GUID).digest())
        resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        resp += b"Sec-WebSocket-Accept: " + acc + b"\r\n"
        if self.protocol:
            resp += b"Sec-WebSocket-Protocol: " + self.protocol.encode() + b"\r\n"
        w.write(resp + b"\r\n")
        await w.drain()
        self.writer = w
        self.closed.clear()
        parts = []
        try:
            while True:
                f = await read_frame(r)
                self.frames.append(f)
                if f.op == 9:
                    if self.pong:
                        await self.send(frame(10, f.data))
                elif f.op == 8:
                    try:  # echo the close frame (RFC 6455 5.5.1), then drop the connection
                        await self.send(frame(8, f.data[:2]))
                    except ConnectionError:
                        pass
                    break
                elif f.op in (0, 1):
                    parts.append(f.data)
                    if f.fin:
                        try:
                            text = b"".join(parts).decode()
                        except UnicodeDecodeError:
                            self.violations.append(("text frame", "not UTF-8: %r" % b"".join(parts)[:80]))
                            text = b"".join(parts).decode(errors="replace")
                        await self._message(text)
                        parts = []
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            w.close()

    async def _message(self, text):
        msg = json.loads(text)
        async with self._new_msg:
            self.messages.append(msg)
            self._new_msg.notify_all()
        if msg[0] == 3 and msg[1] in self._calls:
            for e in schema_errors(self._calls[msg[1]], msg[2], "Response"):
                self.violations.append((self._calls[msg[1]] + "Response", e.message))
        if msg[0] == 2:
            for e in schema_errors(msg[2], msg[3]):
                self.violations.append((msg[2], e.message))
            if self.answer:
                now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                res = {"BootNotification": {"currentTime": now, "interval": 300, "status": "Accepted"},
                       "Heartbeat": {"currentTime": now}}.get(msg[2], {})
                try:
                    await self.send_text(json.dumps([3, msg[1], res]))
                except ConnectionError:
                    # the station may have failed the connection meanwhile (RFC 6455 7.1.7 drops the socket
                    # right after its close frame): keep reading, so the frames it sent before are recorded
                    pass

    async def send(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def send_text(self, text):
        await self.send(frame(1, text))

    async def wait_message(self, pred, timeout=5):
        """The first message from the station (new or old) for which pred(msg) is true."""
        async def go():
            async with self._new_msg:
                while True:
                    for m in self.messages:
                        if pred(m):
                            return m
                    await self._new_msg.wait()

        return await asyncio.wait_for(go(), timeout)

    async def reply_to(self, mid, timeout=5):
        return await self.wait_message(lambda m: m[0] in (3, 4) and m[1] == mid, timeout)

    async def call(self, mid, action, payload, timeout=5):
        self._calls[mid] = action
        await self.send_text(json.dumps([2, mid, action, payload]))
        return await self.reply_to(mid, timeout)
