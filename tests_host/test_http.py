"""The firmware's HTTP client (firmware/station/transport/http.py) under the MicroPython Unix port against a
real CPython ThreadingHTTPServer (and the same behind TLS with a CA made here by `cryptography`).

Each case runs tests_host/mp/httpcli.py in a fresh micropython with a capped heap; the server records what it
got (headers, multipart parts, raw bodies) and the test compares both sides."""

import datetime
import email.parser
import email.policy
import hashlib
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mpharness import MP_DIR, run_mp

CLI = os.path.join(MP_DIR, "httpcli.py")
BIG = 1536 * 1024
HANG_S = 60  # only against a hang: the waits below end on events


def _data(n, seed=0):
    """n deterministic bytes (SHA-256 blocks of a counter)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d/%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def _sha(b):
    return hashlib.sha256(b).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked answers and keep-alive are allowed: the client must cope

    def log_message(self, *a):
        pass

    def _rec(self, body=None):
        self.server.rec.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                "body": body})

    def _send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunked(self, pieces, cut=False, trailer=False):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, p in enumerate(pieces):
            ext = b";name=value" if i % 2 else b""
            self.wfile.write(b"%x%s\r\n" % (len(p), ext))
            if cut and i == len(pieces) // 2:
                self.wfile.write(p[: len(p) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(p + b"\r\n")
        self.wfile.write(b"0\r\n" + (b"X-Sum: 1\r\n" if trailer else b"") + b"\r\n")

    def do_GET(self):  # noqa: C901 - one route table
        self._rec()
        parts = self.path.split("?")[0].strip("/").split("/")
        head = parts[0]
        if head == "data":  # /data/<n>[/<seed>]
            self._send(200, _data(int(parts[1]), int(parts[2]) if len(parts) > 2 else 0))
        elif head == "big":
            self._send(200, self.server.big)
        elif head == "chunked":  # /chunked/<n>: odd chunk sizes, extensions, a trailer
            d = _data(int(parts[1]))
            sizes, pieces, i = (1, 700, 1024, 3000, 5, 2048), [], 0
            while i < len(d):
                n = sizes[len(pieces) % len(sizes)]
                pieces.append(d[i : i + n])
                i += n
            self._chunked(pieces, trailer=True)
        elif head == "chunkcut":
            self._chunked([_data(3000)[i : i + 1000] for i in range(0, 3000, 1000)], cut=True)
        elif head == "short":  # Content-Length 5000, 2500 sent, then the connection closes
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(_data(2500))
            self.close_connection = True
        elif head == "eof":  # HTTP/1.0 style: no length, the body ends with the connection
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(_data(3333))
            self.close_connection = True
        elif head == "redir":  # /redir/<code>/<abs|host>
            code, kind = int(parts[1]), parts[2]
            loc = {"abs": "/data/4000/7", "host": "http://localhost:%d/data/4000/7" % self.server.server_port}[kind]
            self._send(code, b"moved", [("Location", loc)])
        elif head == "rel":  # /rel/go -> "target" (same directory) -> "?v=2" (same path, a query)
            if parts[1] == "go":
                self._send(302, b"", [("Location", "target")])
            elif "?v=2" not in self.path:
                self._send(303, b"", [("Location", "?v=2")])
            else:
                self._send(200, _data(4000, 7))
        elif head == "loop":  # /loop/<k> -> /loop/<k+1>
            self._send(302, b"", [("Location", "/loop/%d" % (int(parts[1]) + 1))])
        elif head == "to":  # /to/<scheme>/<port>: a redirect across http and https
            self._send(302, b"", [("Location", "%s://localhost:%s/data/2000/3" % (parts[1], parts[2]))])
        elif head == "status":
            self._send(int(parts[1]), b"no")
        elif head == "auth":
            self._send(200, self.headers.get("Authorization", "").encode())
        elif head == "stall":  # /stall/head: nothing at all; /stall/body: the header and 1 KB, then nothing
            if parts[1] == "body":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(_data(1024))
                self.wfile.flush()
            self.server.release.wait(HANG_S)
            self.close_connection = True
        elif head == "slow":  # /slow/<n>/<piece>/<ms>
            n, piece, ms = int(parts[1]), int(parts[2]), int(parts[3])
            d = _data(n)
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for i in range(0, n, piece):
                self.wfile.write(d[i : i + piece])
                self.wfile.flush()
                time.sleep(ms / 1000)
        else:
            self._send(404)

    def _body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def do_POST(self):
        self._upload()

    def do_PUT(self):
        self._upload()

    def _upload(self):
        p = self.path.strip("/").split("/")
        if p[0] == "stall":  # never reads the body: the client's writes stall
            self._rec()
            self.server.release.wait(HANG_S)
            self.close_connection = True
            return
        if p[0] == "rude" and self.command == "POST":  # refuses before reading the body, and hangs up
            self._rec()
            self._send(405, b"", [("Connection", "close")])
            self.close_connection = True
            return
        body = self._body()
        self._rec(body)
        if p[0] == "status":
            self._send(int(p[1]), b"no")
        elif p[0] == "putonly" and self.command == "POST":
            self._send(405, b"use PUT", [("Allow", "PUT")])
        else:
            self._send(201 if self.command == "PUT" else 200, b"stored")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ctx=None):
        super().__init__(("127.0.0.1", 0), Handler)
        if ctx is not None:
            self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.rec = []
        self.big = _data(BIG, 1)
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_port


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, key, sign_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30)))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return b.sign(sign_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("httppki")
    ca_key, other_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("HTTP Test CA", "HTTP Test CA", ca_key, ca_key, True)
    other = _cert("Other CA", "Other CA", other_key, other_key, True)
    leaf = _cert("localhost", "HTTP Test CA", key, ca_key, False)
    (d / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    (d / "other.der").write_bytes(other.public_bytes(serialization.Encoding.DER))
    (d / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "server.pem"), str(d / "server.key"))
    return d, ctx


@pytest.fixture(scope="module")
def srv():
    s = Server()
    yield s
    s.release.set()
    s.shutdown()


@pytest.fixture(scope="module")
def tls_srv(pki):
    s = Server(pki[1])
    yield s
    s.release.set()
    s.shutdown()


@pytest.fixture(autouse=True)
def fresh(request):
    for name in ("srv", "tls_srv"):
        if name in request.fixturenames:
            s = request.getfixturevalue(name)
            s.rec.clear()
            s.release.clear()


def mp(spec, heap="64K", timeout=HANG_S):
    rc, out = run_mp([CLI, json.dumps(spec)], heap=heap, timeout=timeout)
    assert rc == 0 and "RESULT " in out, out
    return json.loads(out.split("RESULT ", 1)[1].splitlines()[0])


def url(s, path, scheme="http", host="127.0.0.1"):
    return "%s://%s:%d%s" % (scheme, host, s.port, path)


# -- downloads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 1023, 1024, 1025, 5000])
def test_get_content_length_in_full_buffers(srv, n):
    r = mp({"op": "get", "url": url(srv, "/data/%d" % n)})
    assert r["status"] == 200 and r["n"] == n and r["sha256"] == _sha(_data(n)), r
    assert r["chunks"] == (n + 1023) // 1024 and r["short"] == (1 if n % 1024 else 0), r  # all full but the last
    h = srv.rec[0]["headers"]
    assert h["Host"] == "127.0.0.1:%d" % srv.port and h["Connection"] == "close", h


def test_get_chunked_with_extensions_and_trailer(srv):
    r = mp({"op": "get", "url": url(srv, "/chunked/20000"), "buf": 1500})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(20000)), r
    assert r["short"] == 1 and r["chunks"] == 14, r  # the client refills its buffer across chunk boundaries


def test_get_until_eof_without_length(srv):
    r = mp({"op": "get", "url": url(srv, "/eof")})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(3333)), r


def test_big_download_streams_in_64k_heap(srv):
    r = mp({"op": "get", "url": url(srv, "/big"), "async": True}, heap="64K")
    assert r["status"] == 200 and r["n"] == BIG and r["sha256"] == _sha(srv.big), r


def test_body_cut_short_is_an_error(srv):
    r = mp({"op": "get", "url": url(srv, "/short")})
    assert r["error"][0] is None and "cut 2500 bytes short" in r["error"][1], r
    r = mp({"op": "get", "url": url(srv, "/chunkcut")})
    assert r["error"][0] is None and ("cut" in r["error"][1] or "closed" in r["error"][1]), r


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_each_redirect_code_is_followed(srv, code):
    r = mp({"op": "get", "url": url(srv, "/redir/%d/abs" % code)})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(4000, 7)), r
    assert [q["path"] for q in srv.rec] == ["/redir/%d/abs" % code, "/data/4000/7"]


def test_relative_and_cross_host_redirects(srv):
    r = mp({"op": "get", "url": url(srv, "/rel/go")})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(4000, 7)), r
    assert [q["path"] for q in srv.rec] == ["/rel/go", "/rel/target", "/rel/target?v=2"]
    srv.rec.clear()
    r = mp({"op": "get", "url": url(srv, "/redir/307/host")})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(4000, 7)), r
    assert srv.rec[1]["headers"]["Host"] == "localhost:%d" % srv.port  # the new URL's host


def test_no_redirect_allowed(srv):
    r = mp({"op": "get", "url": url(srv, "/redir/301/abs"), "redirects": 0})
    assert r["error"][0] == 301 and "more than 0 redirects" in r["error"][1], r
    assert len(srv.rec) == 1


def test_redirect_loop_ends_at_the_bound(srv):
    r = mp({"op": "get", "url": url(srv, "/loop/0"), "redirects": 5})
    assert r["error"][0] == 302 and "more than 5 redirects" in r["error"][1], r
    assert [q["path"] for q in srv.rec] == ["/loop/%d" % i for i in range(6)]  # 1 + 5 follow-ups, no more


@pytest.mark.parametrize("code", [401, 403, 404, 500])
def test_error_status_is_raised_with_the_status(srv, code):
    r = mp({"op": "get", "url": url(srv, "/status/%d" % code)})
    assert r["error"][0] == code and "status" not in r, r


def test_basic_auth_from_the_url_percent_decoded(srv):
    import base64

    r = mp({"op": "get", "url": "http://us%%40er:p%%3Ass%%20w%%C3%%B6rd@127.0.0.1:%d/auth" % srv.port})
    assert r["status"] == 200
    got = srv.rec[0]["headers"]["Authorization"]
    assert got.startswith("Basic ") and base64.b64decode(got[6:]).decode() == "us@er:p:ss wörd", got
    assert srv.rec[0]["path"] == "/auth"  # the credentials never go into the request line


def test_refused_connection_and_unknown_scheme(srv):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    r = mp({"op": "get", "url": "http://127.0.0.1:%d/x" % port})
    assert r["error"][0] is None and "ECONNREFUSED" in r["error"][1], r
    r = mp({"op": "get", "url": "ftp://127.0.0.1/x"})
    assert r["error"][0] is None and "unsupported" in r["error"][1], r


# -- timeouts and the event loop ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["head", "body"])
def test_stalled_server_times_out(srv, where):
    r = mp({"op": "get", "url": url(srv, "/stall/" + where), "timeout": 400})
    assert r["error"][0] is None and "timeout" in r["error"][1], r
    assert r["ms"] >= 400, r  # the deadline was waited for, not a fault found earlier
    assert not srv.release.is_set()  # the server was still holding the request: it never answered


def test_stalled_upload_times_out(srv):
    # The server reads nothing: once the socket buffers are full every write waits, and the deadline ends it.
    r = mp({"op": "put", "url": url(srv, "/stall"), "pattern": 256 * 1024 * 1024, "timeout": 400})
    assert r["error"][0] is None and "timeout" in r["error"][1], r


def test_other_tasks_run_between_chunks_of_a_slow_transfer(srv):
    r = mp({"op": "get", "url": url(srv, "/slow/20000/700/5"), "ticker": True})
    assert r["status"] == 200 and r["sha256"] == _sha(_data(20000)), r
    assert r["stalls"] == 0 and r["chunks"] == 20, r  # the ticker ran between every two chunks
    r = mp({"op": "get", "url": url(srv, "/big"), "ticker": True})
    assert r["status"] == 200 and r["stalls"] == 0 and r["chunks"] == BIG // 1024, r  # also when data never waits


# -- uploads -----------------------------------------------------------------------------------------------


def _multipart(rec):
    h = rec["headers"]
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + h["Content-Type"].encode() + b"\r\n\r\n" + rec["body"])
    assert msg.is_multipart()
    parts = list(msg.iter_parts())
    assert len(parts) == 1
    return parts[0]


@pytest.mark.parametrize("n", [0, 1, 3000, 70001])
def test_post_multipart_is_parsed_by_the_server(srv, tmp_path, n):
    f = tmp_path / "diag.log"
    f.write_bytes(_data(n, 5))
    r = mp({"op": "post", "url": url(srv, "/up/x"), "file": str(f), "name": "diag-2026.log"})
    assert r["status"] == 200, r
    rec = srv.rec[0]
    assert rec["method"] == "POST" and "Transfer-Encoding" not in rec["headers"]
    assert int(rec["headers"]["Content-Length"]) == len(rec["body"])
    part = _multipart(rec)
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "diag-2026.log"
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_payload(decode=True) == _data(n, 5)


def test_upload_falls_back_to_put_after_405(srv, tmp_path):
    f = tmp_path / "security.log"
    f.write_bytes(_data(12345, 9))
    r = mp({"op": "upload", "url": url(srv, "/putonly/log"), "file": str(f), "name": "security.log"})
    assert r["status"] == 201, r
    assert [q["method"] for q in srv.rec] == ["POST", "PUT"]
    put = srv.rec[1]
    assert put["body"] == _data(12345, 9) and put["headers"]["Content-Type"] == "application/octet-stream"


def test_405_sent_before_the_body_was_read_still_brings_the_put(srv):
    # The server answers while the client is still sending and closes (a reset, with data unread): the client
    # still reads the answer instead of reporting the failed write.
    r = mp({"op": "upload", "url": url(srv, "/rude/x"), "pattern": 1024 * 1024})
    assert r["status"] == 201 and [q["method"] for q in srv.rec] == ["POST", "PUT"], r
    assert len(srv.rec[1]["body"]) == 1024 * 1024


def test_upload_lets_other_tasks_run_between_chunks(srv, tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(_data(300000, 4))
    for asrc in (False, True):  # a plain source (the client yields between chunks by itself) and an async one
        srv.rec.clear()
        r = mp({"op": "post", "url": url(srv, "/up/a"), "file": str(f), "async": asrc, "ticker": True})
        assert r["status"] == 200 and _multipart(srv.rec[0]).get_payload(decode=True) == _data(300000, 4), r
        assert r["src"]["calls"] == 293 and r["src"]["stalls"] == 0, r  # 1 KiB reads; the ticker ran between each


def test_upload_posts_once_when_post_works(srv, tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(b"hello")
    r = mp({"op": "upload", "url": url(srv, "/up/a"), "file": str(f), "name": "a.log"})
    assert r["status"] == 200 and [q["method"] for q in srv.rec] == ["POST"], r


@pytest.mark.parametrize("code", [401, 403, 500])
def test_upload_refusals_surface_their_status(srv, tmp_path, code):
    f = tmp_path / "a.log"
    f.write_bytes(_data(5000))
    r = mp({"op": "upload", "url": url(srv, "/status/%d" % code), "file": str(f)})
    assert r["error"][0] == code, r
    assert [q["method"] for q in srv.rec] == ["POST"]  # only a 405 brings the PUT


def test_upload_file_shorter_than_its_size_is_an_error(srv, tmp_path):
    f = tmp_path / "a.log"
    f.write_bytes(_data(100))
    r = mp({"op": "put", "url": url(srv, "/up/a"), "file": str(f), "size": 200})
    assert r["error"][0] is None and "ended 100 bytes early" in r["error"][1], r


# -- TLS ---------------------------------------------------------------------------------------------------


def test_https_download_verified_against_the_ca(tls_srv, pki):
    d, _ = pki
    r = mp({"op": "get", "url": url(tls_srv, "/big", "https", "localhost"), "ca": str(d / "ca.der"), "buf": 4096},
           heap="128K")
    assert r["status"] == 200 and r["sha256"] == _sha(tls_srv.big), r


def test_https_upload(tls_srv, pki, tmp_path):
    d, _ = pki
    f = tmp_path / "diag.log"
    f.write_bytes(_data(40000, 2))
    r = mp({"op": "upload", "url": url(tls_srv, "/up/x", "https", "localhost"), "file": str(f), "name": "diag.log",
            "ca": str(d / "ca.der")}, heap="128K")
    assert r["status"] == 200 and _multipart(tls_srv.rec[0]).get_payload(decode=True) == _data(40000, 2), r


def test_https_refused_with_a_wrong_ca_or_none(tls_srv, pki):
    d, _ = pki
    r = mp({"op": "get", "url": url(tls_srv, "/data/10", "https", "localhost"), "ca": str(d / "other.der")},
           heap="128K")
    assert r["error"][0] is None and "not correctly signed by the trusted CA" in r["error"][1], r
    r = mp({"op": "get", "url": url(tls_srv, "/data/10", "https", "localhost")})
    assert r["error"] == [None, "https needs a TLS context (CA)"], r
    r = mp({"op": "get", "url": url(tls_srv, "/data/10", "https", "localhost"), "badfactory": True})
    assert r["error"][0] is None and r["error"][1].startswith("TLS context: "), r
    r = mp({"op": "get", "url": url(tls_srv, "/data/10", "https", "127.0.0.1"), "ca": str(d / "ca.der")},
           heap="128K")
    assert r["error"][0] is None and "CN" in r["error"][1], r  # the URL's host name is checked
    assert not [q for q in tls_srv.rec], tls_srv.rec  # no request got through


def test_redirects_across_http_and_https_with_a_context_factory(srv, tls_srv, pki):
    d, _ = pki
    r = mp({"op": "get", "url": url(srv, "/to/https/%d" % tls_srv.port), "ca": str(d / "ca.der"), "factory": True},
           heap="128K")
    assert r["status"] == 200 and r["sha256"] == _sha(_data(2000, 3)) and r["contexts"] == [1], r  # one TLS hop
    r = mp({"op": "get", "url": url(tls_srv, "/to/http/%d" % srv.port, "https", "localhost"),
            "ca": str(d / "ca.der"), "factory": True}, heap="128K")
    assert r["status"] == 200 and r["sha256"] == _sha(_data(2000, 3)) and r["contexts"] == [1], r
