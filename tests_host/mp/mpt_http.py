# station.transport.http / net: URL splitting and joining, and the response header read with bounds against a
# raw asyncio server in this process (answers no CPython server would send: endless lines, too many headers).
import asyncio
import os

from mptest import eq, raises
from station.transport import http, net

HEAP = "64K"
TIMEOUT = 20


async def serve(handler):
    # MicroPython's Server does not tell its port: try random high ports until one is free.
    while True:
        port = 30000 + int.from_bytes(os.urandom(2), "big") % 30000
        try:
            return await asyncio.start_server(handler, "127.0.0.1", port), port
        except OSError:
            pass


def test_split():
    eq(net.split("http://h/x"), ("http", None, "h", 80, "/x"))
    eq(net.split("HTTPS://h"), ("https", None, "h", 443, "/"))
    eq(net.split("https://u:p%40w@h:8443/a/b?c=d#frag"), ("https", "u:p@w", "h", 8443, "/a/b?c=d"))
    eq(net.split("http://h?q=1"), ("http", None, "h", 80, "/?q=1"))
    eq(net.split("http://[::1]:81/x"), ("http", None, "::1", 81, "/x"))
    eq(net.split("ws://a@b@h/"), ("ws", "a@b", "h", 80, "/"))  # the last @ ends the user part
    raises(ValueError, net.split, "ftp://h/x")
    raises(ValueError, net.split, "http://h:0/")
    raises(ValueError, net.split, "http:///x")
    eq(net.unquote("a%20b%C3%A4%zz%4"), "a bä%zz%4")


def test_request_target_is_encoded_where_a_url_may_not_have_it():
    eq(net.target("/fw/v1.2.bin?x=1&y=%20"), "/fw/v1.2.bin?x=1&y=%20")  # kept as it is
    eq(net.target("/_does.not Exist/ä"), "/_does.not%20Exist/%C3%A4")
    t = net.target("/x\r\nHost: evil")
    assert "\r" not in t and "\n" not in t and " " not in t, t  # no header injected by a URL


def test_join():
    j = http._join
    eq(j("http://h:1/a/b?q", "/c"), "http://h:1/c")
    eq(j("http://u:p@h/a/b", "c?d"), "http://u:p@h/a/c?d")  # relative: same origin, credentials kept
    eq(j("http://h/a/b?x=1", "?y=2"), "http://h/a/b?y=2")
    eq(j("http://h", "c"), "http://h/c")
    eq(j("https://h/a", "//g:9/z"), "https://g:9/z")
    eq(j("http://h/a", "https://g/z"), "https://g/z")
    eq(j("http://h/a/", "x/y://z"), "http://h/a/x/y://z")  # "://" after a "/" is a path, not a scheme


def test_error_fields():
    e = http.HttpError(404, "Not Found")
    eq((e.status, e.reason), (404, "Not Found"))
    assert isinstance(e, Exception)
    eq(http.PROTOCOLS, "HTTP,HTTPS")


async def _answer(raw, hold=False):
    # One connection: the request header is read, raw is sent, the connection closed (or held open).
    async def handler(r, w):
        while (await r.readline()) not in (b"\r\n", b""):
            pass
        w.write(raw)
        await w.drain()
        if hold:
            await asyncio.sleep(5)
        w.close()
        await w.wait_closed()  # MicroPython's close() alone keeps the socket open

    srv, port = await serve(handler)
    got = []
    try:
        status = await http.get("http://127.0.0.1:%d/x" % port, lambda mv: got.append(bytes(mv)), timeout_ms=2000)
        return status, b"".join(got)
    except http.HttpError as e:
        return e.status, e.reason
    finally:
        srv.close()


async def test_interim_answers_are_skipped_and_names_are_case_insensitive():
    eq(await _answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntRANSFER-eNCODING: Chunked\r\n\r\n"
                     b"3\r\nabc\r\n0\r\n\r\n", hold=True), (200, b"abc"))  # the last chunk ends it, not EOF
    eq(await _answer(b"HTTP/1.0 200 OK\r\nCONTENT-LENGTH: 2\r\n\r\nhiXX", hold=True), (200, b"hi"))


async def test_oversized_or_bad_headers_are_refused():  # heap: 96K (the answers built here)
    eq(await _answer(b"HTTP/1.1 200 " + b"a" * 3000 + b"\r\n\r\n"), (None, "response line too long"))
    eq(await _answer(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 3000 + b"\r\n\r\n"), (None, "response line too long"))
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(65))
    eq(await _answer(b"HTTP/1.1 200 OK\r\n" + many + b"\r\n"), (None, "too many response headers"))
    big = b"".join(b"X-%d: %s\r\n" % (i, b"b" * 1500) for i in range(6))  # each line fits, the whole does not
    eq(await _answer(b"HTTP/1.1 200 OK\r\n" + big + b"\r\n"), (None, "response line too long"))
    eq(await _answer(b"SSH-2.0-OpenSSH\r\n\r\n"), (None, "bad status line"))
    eq(await _answer(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), (None, "bad header"))
    eq(await _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), (None, "bad chunk size"))
    eq(await _answer(b""), (None, "connection closed"))
    eq(await _answer(b"HTTP/1.1 302 Found\r\n\r\n"), (302, "redirect without Location"))


async def test_an_outside_cancel_is_not_a_timeout():
    async def handler(r, w):
        await asyncio.sleep(5)
        w.close()

    srv, port = await serve(handler)
    try:
        t = asyncio.create_task(http.get("http://127.0.0.1:%d/x" % port, len, timeout_ms=10000))
        await asyncio.sleep_ms(100)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("not cancelled")
    finally:
        srv.close()
