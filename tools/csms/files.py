"""The file server a CSMS points the station to (UpdateFirmware's location, GetLog's remoteLocation): CPython's
http.server in a thread. It serves files by GET and stores what is POSTed (multipart/form-data, parsed by the
`email` package) or PUT, and can be told to fail, to refuse POST, to ask for Basic auth or to be slow. Used by
the tests, the benchmarks and the demo.

    with FileServer() as fs:                    # FileServer(ssl=context, name="localhost") for https
        fs.files["/fw.img"] = data              # served by GET; fs.got lists the paths asked for
        fs.slow["/fw.img"] = 0.05               # seconds per KiB for that path (key None: every path)
        url = fs.url("/logs")
        ...
        fs.received[0].filename, fs.received[0].body
"""

import base64
import datetime
import email.parser
import email.policy
import http.server
import os
import ssl as ssllib
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def tls_context(directory):
    """(server SSLContext for "localhost", its CA in PEM) made here: a station trusts the server once the CA is
    installed as a CSMSRootCertificate (or configured). Key files go to directory."""
    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ck, sk = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, key, ca):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name("Files CA"))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return b.sign(ck, hashes.SHA256())

    pem = serialization.Encoding.PEM
    ca_cert, leaf = cert("Files CA", ck, True), cert("localhost", sk, False)
    crt, key = os.path.join(str(directory), "srv.pem"), os.path.join(str(directory), "srv.key")
    with open(crt, "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(key, "wb") as f:
        f.write(sk.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssllib.SSLContext(ssllib.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ctx, ca_cert.public_bytes(pem).decode()


class Upload:
    def __init__(self, method, path, headers, filename, content_type, body, t):
        self.method = method
        self.path = path
        self.headers = headers
        self.filename = filename
        self.content_type = content_type
        self.body = body
        self.t = t  # time.monotonic() when the request arrived (for spacing)
        self.wall = time.time()  # the same moment on the wall clock (to compare with a CSMS's log)

    def __repr__(self):
        return "<%s %s %s %d bytes>" % (self.method, self.path, self.filename, len(self.body))


class FileServer:
    def __init__(self, ssl=None, host="127.0.0.1", name=None):
        # name: the host name URLs carry (a TLS certificate's name); default the address
        self.files = {}  # path -> bytes served by GET
        self.got = []  # paths asked for by GET, in order
        self.received = []  # Upload, in arrival order (also the ones answered with a failure)
        self.fail = []  # statuses answered to the next requests, one each (then 200s)
        self.refuse_post = False  # 405 to every POST (the station must retry as PUT)
        self.auth = None  # (user, password): 401 without it
        self.slow = {}  # path (None: every path) -> seconds of sleep per 1 KiB of body moved
        self.hold = threading.Event()  # cleared: uploads wait for it before answering
        self.hold.set()
        self._cond = threading.Condition()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length", "0"))
                out = bytearray()
                while len(out) < n:
                    chunk = self.rfile.read(min(1024, n - len(out)))
                    if not chunk:
                        break
                    out += chunk
                    srv._pause(self.path)
                return bytes(out)

            def _answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self):
                if srv.auth is None:
                    return True
                want = "Basic " + base64.b64encode(("%s:%s" % srv.auth).encode()).decode()
                return self.headers.get("Authorization") == want

            def _store(self, method):
                t = time.monotonic()
                body = self._body()
                filename = ctype = None
                if method == "POST":
                    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body)
                    parts = list(msg.iter_parts()) if msg.is_multipart() else []
                    if parts:
                        filename = parts[0].get_filename()
                        ctype = parts[0].get_content_type()
                        body = parts[0].get_payload(decode=True)
                up = Upload(method, self.path, dict(self.headers), filename, ctype, body, t)
                with srv._cond:
                    srv.received.append(up)
                    srv._cond.notify_all()
                srv.hold.wait(60)
                if not self._authorized():
                    return self._answer(401)
                if srv.fail:
                    return self._answer(srv.fail.pop(0))
                if method == "POST" and srv.refuse_post:
                    return self._answer(405)
                self._answer(201 if method == "PUT" else 200)

            def do_POST(self):
                self._store("POST")

            def do_PUT(self):
                self._store("PUT")

            def do_GET(self):
                srv.got.append(self.path)
                if not self._authorized():
                    return self._answer(401)
                if srv.fail:
                    return self._answer(srv.fail.pop(0))
                data = srv.files.get(self.path)
                if data is None:
                    return self._answer(404)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    for i in range(0, len(data), 1024):
                        self.wfile.write(data[i:i + 1024])
                        srv._pause(self.path)
                except (BrokenPipeError, ConnectionResetError):  # the station gave the transfer up
                    pass

        self._httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        if ssl is not None:
            self._httpd.socket = ssl.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if ssl is not None else "http"
        self.host = host
        self.name = name or host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _pause(self, path):
        s = self.slow.get(path, self.slow.get(None))
        if s:
            time.sleep(s)

    def url(self, path="/", userinfo=""):
        return "%s://%s%s:%d%s" % (self.scheme, userinfo + "@" if userinfo else "", self.name, self.port, path)

    def wait_received(self, count=1, timeout=30):
        end = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%d request(s) expected, %d arrived" % (count, len(self.received)))
                self._cond.wait(left)
        return self.received[:count]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
