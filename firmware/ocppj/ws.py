# WebSocket client (RFC 6455) over asyncio streams, just what OCPP-J needs: the opening handshake here
# (URL, Basic auth, TLS, Sec-WebSocket-Accept and subprotocol checks), frames in wsframe.py (text messages,
# masked client frames with a fresh random key each, fragments, ping/pong, close handshake, size limit).
# Our own because the micropython-lib/PyPI clients fail basic checks (Sec-WebSocket-Accept, subprotocol,
# fragments, blocking the loop): see README "Why our own WebSocket client".
#
#   ws = await connect(url, protocol="ocpp2.0.1", auth=(user, pw), ssl=ctx, max_size=16384, write_timeout_ms=10000)
#   await ws.send(text); text = await ws.recv(); await ws.ping(); await ws.close()
# recv() raises Closed when the connection ends (peer close, EOF, protocol error, a write not drained within
# write_timeout_ms); an oversized message is skipped (logged) and recv() goes on with the next one.
import asyncio
import binascii
import hashlib
import os

from ocppj.wsframe import WS, Closed, close_stream, mask  # noqa: F401 - Closed and mask are part of this API

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    pass


def parse_url(url):
    """ws[s]://host[:port]/path -> (tls, host, port, path)."""
    if url.startswith("wss://"):
        tls, rest, port = True, url[6:], 443
    elif url.startswith("ws://"):
        tls, rest, port = False, url[5:], 80
    else:
        raise ValueError("not a ws:// or wss:// URL: " + url)
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if hostport.startswith("["):  # IPv6 literal
        j = hostport.find("]")
        host, tail = hostport[1:j], hostport[j + 1 :]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    return tls, host, port, path


def quote(s):
    """Percent-encode everything but RFC 3986 unreserved characters (for the station id in the path)."""
    out = []
    for b in s.encode():
        c = chr(b)
        if ("A" <= c <= "Z") or ("a" <= c <= "z") or ("0" <= c <= "9") or c in "-._~":
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def accept_key(key):
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest()).strip()


async def connect(url, protocol="ocpp2.0.1", auth=None, ssl=None, max_size=16384, timeout_ms=10000, headers=(),
                  write_timeout_ms=10000):
    """Open a WebSocket; raises HandshakeError (bad status/accept/subprotocol) or OSError."""
    tls, host, port, path = parse_url(url)
    if tls and ssl is None:
        raise HandshakeError("wss:// needs an SSL context (CA)")
    if tls:
        r, w = await asyncio.wait_for_ms(asyncio.open_connection(host, port, ssl=ssl, server_hostname=host), timeout_ms)
    else:
        r, w = await asyncio.wait_for_ms(asyncio.open_connection(host, port), timeout_ms)
    _nodelay(w)
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


def _nodelay(w):
    # Without TCP_NODELAY, Nagle holds a triggered CALL written right after its TriggerMessageResponse until
    # the CSMS's delayed ACK of the response comes back (40 ms on Linux). 6/1 = IPPROTO_TCP/TCP_NODELAY on
    # Linux and lwIP alike; the ports export no names for them. A TLS socket may not pass it on: then Nagle stays.
    try:
        w.s.setsockopt(6, 1, 1)
    except (AttributeError, OSError):
        pass


async def _exchange(r, w, request, key, protocol):
    w.write(request)
    await w.drain()
    await _response(r, key, protocol)


async def _response(r, key, protocol):
    line = await r.readline()
    parts = line.split(None, 2)
    if len(parts) < 2 or parts[1] != b"101":
        raise HandshakeError("server refused the upgrade: %r" % line[:80])
    hdr = {}
    n = 0
    while True:
        line = await r.readline()
        if not line:
            raise HandshakeError("connection closed during handshake")
        line = line.strip()
        if not line:
            break
        n += 1
        if n > 64:
            raise HandshakeError("too many response headers")
        i = line.find(b":")
        if i > 0:
            hdr[line[:i].strip().lower()] = line[i + 1 :].strip()
    if hdr.get(b"sec-websocket-accept") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    if hdr.get(b"sec-websocket-protocol", b"").decode() != protocol:
        raise HandshakeError("server did not select subprotocol %s" % protocol)
    if hdr.get(b"upgrade", b"").lower() != b"websocket":
        raise HandshakeError("missing Upgrade: websocket")


def tls_context(cadata, cert=None, key=None):
    """Client TLS context: server verified against a CA given in DER (profile 2), optional client cert (3)."""
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    ctx.load_verify_locations(cadata)  # positional and DER: MicroPython refuses keywords and PEM here
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx
