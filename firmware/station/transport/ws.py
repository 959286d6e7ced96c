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
# write_timeout_ms); an oversized message is skipped (logged) and recv() goes on with the next one.
# connect() opens the socket itself, not with asyncio.open_connection: that one resolves the name again
# (blocking the loop) and wraps TLS before we can set TCP_NODELAY on the TCP socket. addr=None resolves
# here; TLS always verifies the URL's host name. The response header is read with each line and the whole
# bounded, and never past its end: the server's first frames may come in the same segment.
import asyncio
import binascii
import errno
import hashlib
import os
import socket

from micropython import const

from station.transport.wsframe import WS, Closed, close_stream, mask  # noqa: F401 - Closed and mask are part of this API

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LINE = const(1024)  # longest response line
_HEAD = const(8192)  # whole response header


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


def resolve(host, port):
    """The address to connect to, as socket.getaddrinfo gives it for a stream socket. Blocks the event loop."""
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]


async def connect(url, protocol="ocpp2.0.1", auth=None, ssl=None, max_size=16384, timeout_ms=10000, headers=(),
                  write_timeout_ms=10000, addr=None):
    """Open a WebSocket to addr (resolve() of the URL's host when None); raises HandshakeError (bad
    status/accept/subprotocol, oversized header) or OSError."""
    tls, host, port, path = parse_url(url)
    if tls and ssl is None:
        raise HandshakeError("wss:// needs an SSL context (CA)")
    if addr is None:
        addr = resolve(host, port)
    r = w = await asyncio.wait_for_ms(_open(addr, host, ssl if tls else None), timeout_ms)
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


def _nodelay(s):
    # Without TCP_NODELAY, Nagle holds a triggered CALL written right after its TriggerMessageResponse until
    # the CSMS's delayed ACK of the response comes back (40 ms on Linux). Set on the TCP socket before any
    # TLS wrapping (the TLS socket has no setsockopt). 6/1 = IPPROTO_TCP/TCP_NODELAY on Linux and lwIP
    # alike; the ports export no names for them.
    try:
        s.setsockopt(6, 1, 1)
    except OSError:
        pass


def _io(s, write):
    # Suspends the task until s is writable (readable), as asyncio's own streams wait; async def cannot yield.
    q = asyncio.core._io_queue
    yield q.queue_write(s) if write else q.queue_read(s)


async def _open(ai, host, ssl):
    # What asyncio.open_connection does, with the address given and TCP_NODELAY set before TLS.
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        _nodelay(s)
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                raise
        await _io(s, True)  # connected, or failed: the first write then says why
        if ssl is not None:  # the TLS handshake runs in the first write and drain
            s = ssl.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
            s.setblocking(False)
    except BaseException:  # a timeout cancels us too: the socket must not leak
        s.close()
        raise
    return asyncio.StreamReader(s)


async def _exchange(r, w, request, key, protocol):
    w.write(request)
    await w.drain()
    await _response(r.s, key, protocol)


def _line(s, room):
    # Up to room bytes of one line. The socket's readline(n) takes one byte at a time, so nothing after
    # the line leaves the socket (the stream's own readline has no bound).
    line = b""
    while len(line) < room:
        yield from _io(s, False)
        part = s.readline(room - len(line))
        if part is None:  # nothing yet (non-blocking)
            continue
        if not part:
            break
        line += part
        if line[-1] == 10:
            break
    return line


async def _hline(s, left):
    room = min(_LINE, left)
    line = await _line(s, room)
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


def tls_context(cadata, cert=None, key=None):
    """Client TLS context: server verified against the CA (DER, or a list of them: each is a trust anchor)
    (profile 2), optional client certificate chain and key (profile 3)."""
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    for ca in cadata if isinstance(cadata, list) else (cadata,):
        ctx.load_verify_locations(ca)  # positional: MicroPython refuses keywords; each call adds one
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx
