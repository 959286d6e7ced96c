# Streaming HTTP/1.1 client for file transfers: the firmware download (L01) and the log upload (N01).
#
#   n = await get(url, sink, ssl=ctx, buf=bytearray(4096))  # sink(mv): every chunk but the last is len(buf)
#   n = await upload(url, "diag.log", lambda: f.readinto, size, ssl=ctx)  # POST multipart, PUT after a 405
#
# Not micropython-lib's aiohttp (0.0.8): on a Content-Length body resp.read(n) ends in EOFError and
# resp.content.read(n) cannot tell a body cut short from a whole one; it follows only 301-303, at most twice,
# and a relative Location breaks it; an upload is one bytes object (the whole log in RAM, twice); it has no
# timeouts. micropython-lib's requests blocks and never verifies a TLS certificate. Here: one request per
# connection (Connection: close, so a redirect to another host is just a new request); the body goes through
# the caller's preallocated buffer in both directions; a body shorter than its Content-Length or its chunks
# is an error; a watchdog task cancels any wait for the peer longer than timeout_ms. The name look-up
# (getaddrinfo) still blocks the event loop, as in asyncio.open_connection. Socket, URL, header-line and TLS
# code is net.py's, shared with the WebSocket client.
import asyncio
import binascii
import os

from micropython import const

from station.transport import net
from station.transport.httpconn import Conn, HttpError, body, head, send

PROTOCOLS = "HTTP,HTTPS"  # for OCPPCommCtrlr.FileTransferProtocols: what this client does (both tested)
_BUF = const(1024)  # default chunk buffer
_REDIRECT = (301, 302, 303, 307, 308)


def _host(host, port, scheme):
    h = "[%s]" % host if ":" in host else host
    return h if port == (443 if scheme == "https" else 80) else "%s:%d" % (h, port)


async def _request(method, url, ssl, mv, ms, sink=None, src=None, size=0, ctype=None, pre=b"", post=b""):
    # One request on its own connection: (status, reason, location) of a 2xx or 3xx answer, the body of a
    # 2xx GET streamed into sink; HttpError otherwise.
    try:
        scheme, user, host, port, path = net.split(url)
        if scheme[:4] != "http":
            raise ValueError("not an http(s) URL")
    except ValueError as e:
        raise HttpError(None, str(e)) from None
    if scheme == "https":
        if callable(ssl):
            try:  # the station's factory reads CAs from flash: a missing or bad one is this request's failure
                ssl = ssl()
            except (OSError, ValueError) as e:
                raise HttpError(None, "TLS context: %s" % e) from None
        if ssl is None:  # no unverified TLS
            raise HttpError(None, "https needs a TLS context (CA)")
    else:
        ssl = None
    h = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, net.target(path), _host(host, port, scheme))
    if user is not None:
        h += "Authorization: Basic %s\r\n" % binascii.b2a_base64(user.encode()).strip().decode()
    if src is not None:
        h += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(pre) + size + len(post))
    c = Conn(ms)
    try:
        try:
            c.s = await net.open_socket(net.resolve(host, port), host, ssl, c.wait)
        except ValueError as e:  # mbedtls's way to refuse
            raise HttpError(None, "TLS: %s" % e) from None
        err = None
        try:
            await c.send((h + "\r\n").encode())
            if src is not None:
                await c.send(pre)
                await send(c, src, size, mv)
                await c.send(post)
        except OSError as e:  # the server may have answered and closed already (401, 405, 413)
            err = e
        try:
            status, reason, length, chunked, loc = await head(c)
        except (OSError, HttpError):
            if err is not None:
                raise err from None
            raise
        if status >= 300 and (status not in _REDIRECT or src is not None):
            raise HttpError(status, reason)
        if sink is not None and status < 300 and status not in (204, 205):
            await body(c, sink, mv, length, chunked)
        return status, reason, loc
    except asyncio.CancelledError:
        if c.late:
            raise HttpError(None, "timeout: no answer within %d ms" % ms) from None
        raise
    except OSError as e:
        raise HttpError(None, "%s: %s" % (host, e)) from None
    finally:
        c.close()


def _join(base, loc):
    # The URL a Location names, relative to base (RFC 3986 5.2, without dot-segment removal).
    i = base.find("://") + 3
    j = i
    while j < len(base) and base[j] not in "/?#":
        j += 1
    if loc.startswith("//"):
        return base[: i - 2] + loc
    if loc.startswith("/"):
        return base[:j] + loc
    k = loc.find("://")
    if k > 0 and all(ch not in "/?#" for ch in loc[:k]):
        return loc
    path = base[j:].split("#")[0]
    if loc.startswith("?"):
        return base[:j] + (path.split("?")[0] or "/") + loc
    path = path.split("?")[0]
    return base[:j] + path[: path.rfind("/") + 1] + loc if "/" in path else base[:j] + "/" + loc


def _buf(buf):
    mv = memoryview(bytearray(_BUF) if buf is None else buf)
    if not len(mv):
        raise ValueError("empty buffer")
    return mv


async def get(url, sink, ssl=None, buf=None, redirects=5, timeout_ms=15000):
    """Stream url's body into sink(memoryview) (a function, or one returning an awaitable), following up to
    `redirects` redirects; returns the final 2xx status. HttpError otherwise."""
    mv = _buf(buf)
    for _ in range(redirects + 1):
        status, reason, loc = await _request("GET", url, ssl, mv, timeout_ms, sink)
        if status < 300:
            return status
        if not loc:
            raise HttpError(status, "redirect without Location")
        url = _join(url, loc)
    raise HttpError(status, "more than %d redirects" % redirects)


async def put(url, src, size, ssl=None, buf=None, timeout_ms=15000, content_type="application/octet-stream"):
    """PUT size bytes read by src(buf) -> n (0 at the end; a function, or one returning an awaitable)."""
    return (await _request("PUT", url, ssl, _buf(buf), timeout_ms, None, src, size, content_type))[0]


async def post_file(url, filename, src, size, ssl=None, buf=None, timeout_ms=15000,
                    content_type="application/octet-stream"):
    """POST the file as multipart/form-data: one part named "file" with its filename and content_type."""
    b = binascii.hexlify(os.urandom(12)).decode()
    # As browsers do (HTML's multipart/form-data rules): ", CR and LF of the name percent-encoded.
    name = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    pre = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
           % (b, name, content_type)).encode()
    return (await _request("POST", url, ssl, _buf(buf), timeout_ms, None, src, size,
                           "multipart/form-data; boundary=" + b, pre, ("\r\n--%s--\r\n" % b).encode()))[0]


async def upload(url, filename, src_factory, size, ssl=None, buf=None, timeout_ms=15000,
                 content_type="application/octet-stream"):
    """N01 upload: POST multipart; when the server refuses POST (405), PUT of the raw file from a fresh
    src_factory()."""
    try:
        return await post_file(url, filename, src_factory(), size, ssl, buf, timeout_ms, content_type)
    except HttpError as e:
        if e.status != 405:
            raise
    return await put(url, src_factory(), size, ssl, buf, timeout_ms, content_type)
