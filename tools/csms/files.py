"""A real HTTP(S) file server for the station's file transfers (CPython's http.server, in a thread): it
serves files by GET and stores what is POSTed (multipart/form-data, parsed by the `email` package) or PUT,
and can be told to fail, to refuse POST, to ask for Basic auth or to be slow.

    with FileServer() as fs:                    # FileServer(ssl=context) for https
        url = fs.url("/logs")
        ...
        fs.received[0].filename, fs.received[0].body
"""

import base64
import email.parser
import email.policy
import http.server
import threading
import time


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
    def __init__(self, ssl=None, host="127.0.0.1"):
        self.files = {}  # path -> bytes served by GET
        self.received = []  # Upload, in arrival order (also the ones answered with a failure)
        self.fail = []  # statuses answered to the next requests, one each (then 200s)
        self.refuse_post = False  # 405 to every POST (the station must retry as PUT)
        self.auth = None  # (user, password): 401 without it
        self.slow = 0.0  # seconds of sleep per 1 KiB of body moved (a slow server)
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
                    if srv.slow:
                        time.sleep(srv.slow)
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
                for i in range(0, len(data), 1024):
                    self.wfile.write(data[i:i + 1024])
                    if srv.slow:
                        time.sleep(srv.slow)

        self._httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        if ssl is not None:
            self._httpd.socket = ssl.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if ssl is not None else "http"
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path="/", userinfo=""):
        return "%s://%s%s:%d%s" % (self.scheme, userinfo + "@" if userinfo else "", self.host, self.port, path)

    def wait_received(self, count=1, timeout=30):
        end = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%d request(s) expected, %d arrived" % (count, len(self.received)))
                self._cond.wait(left)
        return self.received[:count]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *a):
        self.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()
