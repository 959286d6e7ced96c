# What the WebSocket client (ws.py) and the HTTP client (http.py) share: URLs, the blocking DNS look-up, a
# non-blocking TCP (+TLS) socket opened without asyncio.open_connection (which resolves the name again and
# wraps TLS before TCP_NODELAY can be set), bounded header-line reading, and the TLS client context.
#
#   scheme, user, host, port, path = split(url)    # user: "name:password" percent-decoded, or None
#   addr = resolve(host, port)                     # blocks the event loop (getaddrinfo)
#   s = await open_socket(addr, host, ctx)         # ctx None: plain TCP; TLS verifies the URL's host name
#   line = await readline(s, room, wait)          # one line, at most room bytes, nothing read past it
import asyncio
import errno
import socket

from micropython import const

_STEP = const(256)  # the socket's readline(n) allocates n bytes first: a long line is read in steps

# The default port of each scheme this firmware speaks.
_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}


def split(url):
    """scheme://[user[:pw]@]host[:port][/path] -> (scheme, "user:pw" or None, host, port, path).
    ValueError for an unknown scheme or a bad port."""
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in _PORTS:
        raise ValueError("unsupported URL: " + url[:40])
    rest = url[i + 3 :]
    i = rest.find("#")  # a fragment never goes to the server
    if i >= 0:
        rest = rest[:i]
    i = rest.find("/")
    j = rest.find("?")
    if 0 <= j and (i < 0 or j < i):  # "host?q" has an empty path
        i = j
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if path[0] == "?":
        path = "/" + path
    user = None
    i = hostport.rfind("@")
    if i >= 0:
        user, hostport = unquote(hostport[:i]), hostport[i + 1 :]
    port = _PORTS[scheme]
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
    if not host or not 0 < port < 65536:
        raise ValueError("bad host or port: " + url[:40])
    return scheme, user, host, port, path


def unquote(s):
    """Percent-decoding (%XX -> byte), the result read as UTF-8 (user names and passwords in URLs)."""
    if "%" not in s:
        return s
    b = s.encode()
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 37 and i + 2 < len(b) and _hex(b[i + 1 : i + 3]):
            out.append(int(b[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode()


def _hex(two):
    return len(two) == 2 and all(c in b"0123456789abcdefABCDEF" for c in two)


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


def target(path):
    """A URL path as a request target: spaces, controls (no CR/LF can split the request), non-ASCII and
    the characters RFC 3986 never allows are percent-encoded; the rest (reserved, %XX) is kept."""
    if all(" " < c < "\x7f" and c not in '"<>\\^`{|}' for c in path):
        return path
    out = []
    for b in path.encode():
        c = chr(b)
        out.append(c if " " < c < "\x7f" and c not in '"<>\\^`{|}' else "%%%02X" % b)
    return "".join(out)


def resolve(host, port):
    """The address to connect to, as socket.getaddrinfo gives it for a stream socket. Blocks the event loop."""
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]


def _nodelay(s):
    # Without TCP_NODELAY, Nagle holds a triggered CALL written right after its TriggerMessageResponse until
    # the CSMS's delayed ACK of the response comes back (40 ms on Linux). Set on the TCP socket before any
    # TLS wrapping (the TLS socket has no setsockopt). 6/1 = IPPROTO_TCP/TCP_NODELAY on Linux and lwIP
    # alike; the ports export no names for them.
    try:
        s.setsockopt(6, 1, 1)
    except OSError:
        pass


def io(s, write):
    """Suspends the task until s is writable (readable), as asyncio's own streams wait; async def cannot
    yield, so this is a plain generator: `await io(s, False)`."""
    q = asyncio.core._io_queue
    yield q.queue_write(s) if write else q.queue_read(s)


async def open_socket(ai, host, ssl, wait=io):
    """A connected non-blocking socket to the address ai (resolve()), TLS-wrapped when ssl is a context
    (server name = host; the handshake runs in the first writes and reads). wait(s, write) suspends."""
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        _nodelay(s)
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                raise
        await wait(s, True)  # connected, or failed: the first write then says why
        if ssl is not None:
            s = ssl.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
            s.setblocking(False)
    except BaseException:  # a timeout cancels us too: the socket must not leak
        s.close()
        raise
    return s


def readline(s, room, wait=io):
    """Up to room bytes of one line (b"" or a line without b"\\n" at the end means EOF or room reached).
    The socket's readline(n) takes one byte at a time, so nothing after the line leaves the socket (the
    stream's own readline has no bound). It reads before it waits: TLS may hold decrypted bytes that the
    socket's poll does not see."""
    line = b""
    while len(line) < room:
        part = s.readline(min(_STEP, room - len(line)))
        if part is None:  # nothing yet (non-blocking)
            yield from wait(s, False)
            continue
        if not part:
            break
        line += part
        if line[-1] == 10:
            break
    return line


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
