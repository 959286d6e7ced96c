# WebSocket client (RFC 6455) over asyncio streams, just what OCPP-J needs: the opening handshake here
# (URL, Basic auth, TLS, Sec-WebSocket-Accept and subprotocol checks), frames in wsframe.py (text messages,
# masked client frames with a fresh random key each, fragments, ping/pong, close handshake, size limit).
# Our own because the micropython-lib/PyPI clients fail basic checks (Sec-WebSocket-Accept, subprotocol,
# fragments, blocking the loop): see README "Why our own WebSocket client".
#
#   addr = resolve(host, port)  # blocking DNS: the caller does it once (watchdog fed), caches it, and looks
#                               # the name up again only after a failed connect
#   ws = await connect(url, protocol="ocpp2.0.1", auth=(user, pw), ssl=ctx, max_size=16384, addr=addr,
#                      write_timeout_ms=10000)
#   await ws.send(text); await ws.send_json(obj); text = await ws.recv(); await ws.ping(); await ws.close()
# recv() raises Closed when the connection ends (peer close, EOF, protocol error, a write not drained within
# write_timeout_ms); an oversized message is skipped (logged) and recv() goes on with the next one; one the
# heap has no room for is skipped too and raises Dropped (its first bytes kept, so that its id can be answered).
# The socket, URL and header-line code is shared with the HTTP client (net.py: it opens the socket itself,
# not with asyncio.open_connection, which resolves the name again and wraps TLS before TCP_NODELAY can be
# set). addr=None resolves here; TLS always verifies the URL's host name. The response header is read with
# each line and the whole bounded, and never past its end: the server's first frames may come in the same
# segment.
import asyncio
import binascii
import hashlib
import os

from micropython import const

# quote, resolve and tls_context are part of this module's API (connection.py, tests)
from station.transport.net import open_socket, quote, readline, resolve, split, tls_context  # noqa: F401
from station.transport.wsframe import WS, Closed, Dropped, close_stream, mask  # noqa: F401 - part of this API

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LINE = const(1024)  # longest response line
_HEAD = const(8192)  # whole response header


class HandshakeError(Exception):
    pass


def parse_url(url):
    """ws[s]://host[:port]/path -> (tls, host, port, path)."""
    scheme, _, host, port, path = split(url)
    if scheme not in ("ws", "wss"):
        raise ValueError("not a ws:// or wss:// URL: " + url)
    return scheme == "wss", host, port, path


def accept_key(key):
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest()).strip()


async def connect(url, protocol="ocpp2.0.1", auth=None, ssl=None, max_size=16384, timeout_ms=10000, headers=(),
                  write_timeout_ms=10000, addr=None):
    """Open a WebSocket to addr (resolve() of the URL's host when None); raises HandshakeError (bad
    status/accept/subprotocol, oversized header) or OSError."""
    tls, host, port, path = parse_url(url)
    if tls and ssl is None:
        raise HandshakeError("wss:// needs an SSL context (CA)")
    if addr is None:
        addr = resolve(host, port)
    r = w = asyncio.StreamReader(await asyncio.wait_for_ms(open_socket(addr, host, ssl if tls else None), timeout_ms))
    try:
        key = binascii.b2a_base64(os.urandom(16)).strip()
        req = [
            "GET %s HTTP/1.1" % path,
            "Host: %s:%d" % (host, port),
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: " + key.decode(),
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: " + protocol,
        ]
        if auth:
            cred = ("%s:%s" % auth).encode()  # UTF-8 inside base64 (RFC 7617)
            req.append("Authorization: Basic " + binascii.b2a_base64(cred).strip().decode())
        req.extend(headers)
        # One deadline for the request and the answer: over TLS the handshake itself runs in this first write.
        await asyncio.wait_for_ms(_exchange(r, w, ("\r\n".join(req) + "\r\n\r\n").encode(), key, protocol),
                                  timeout_ms)
    except BaseException:
        close_stream(w)
        raise
    return WS(r, w, max_size, write_timeout_ms)


async def _exchange(r, w, request, key, protocol):
    w.write(request)
    await w.drain()
    await _response(r.s, key, protocol)


async def _hline(s, left):
    room = min(_LINE, left)
    line = await readline(s, room)
    if line[-1:] != b"\n":
        raise HandshakeError("response header too long" if len(line) >= room else
                             "connection closed during handshake")
    return line


async def _response(s, key, protocol):
    left = _HEAD
    line = await _hline(s, left)
    left -= len(line)
    parts = line.split(None, 2)
    if len(parts) < 2 or parts[1] != b"101":
        raise HandshakeError("server refused the upgrade: %r" % line[:80])
    acc = proto = up = b""
    for _ in range(65):  # 64 headers, then the empty line
        line = await _hline(s, left)
        left -= len(line)
        line = line.strip()
        if not line:
            break
        i = line.find(b":")
        if i > 0:  # only the three we check are kept
            k = line[:i].strip().lower()
            if k == b"sec-websocket-accept":
                acc = line[i + 1 :].strip()
            elif k == b"sec-websocket-protocol":
                proto = line[i + 1 :].strip()
            elif k == b"upgrade":
                up = line[i + 1 :].strip()
    else:
        raise HandshakeError("too many response headers")
    if acc != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    if proto.decode() != protocol:
        raise HandshakeError("server did not select subprotocol %s" % protocol)
    if up.lower() != b"websocket":
        raise HandshakeError("missing Upgrade: websocket")
