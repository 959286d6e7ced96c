"""wss:// with a throw-away CA: the right CA and host name are accepted, a wrong CA or host name refused;
TCP_NODELAY is set on the TCP socket under the TLS session."""

import asyncio
import datetime
import json
import os
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mpharness import micropypath, micropython
from peers.stationproc import Station

from tools.csms.audit import AuditServer


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca = _ca("Test CA")
    _, other_ca = _ca("Other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (d / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    ckey = ec.generate_private_key(ec.SECP256R1())
    ccert = (x509.CertificateBuilder().subject_name(_name("CS1")).issuer_name(ca.subject)
             .public_key(ckey.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .sign(ca_key, hashes.SHA256()))
    (d / "client.der").write_bytes(ccert.public_bytes(serialization.Encoding.DER))
    (d / "client.key.der").write_bytes(ckey.private_bytes(serialization.Encoding.DER,
                                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                                          serialization.NoEncryption()))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    (d / "other.der").write_bytes(other_ca.public_bytes(serialization.Encoding.DER))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(d / "server.pem"), str(d / "server.key"))
    return d, ctx


HANG_S = 60  # only against a hang: each wait below ends on an event, not on a time


def _run(pki, host, ca, refused=False, ctx=None, **kw):
    """Start the station against a TLS server; wait for its first message, or (refused) for that or its log
    line that the connection failed. Returns (the CALLs the server got by then, the station log)."""
    d, server_ctx = pki
    ctx = ctx or server_ctx

    async def go():
        srv = await AuditServer(ssl=ctx).start()
        st = Station("wss://%s:%d" % (host, srv.port), ca=str(d / ca), **kw).start()
        try:
            end = time.monotonic() + HANG_S
            while not (srv.messages or refused and _connect_failed(st.output())):
                assert st.p.poll() is None, "station exited:\n" + st.output()
                assert time.monotonic() < end, "neither a message nor a failed connect:\n" + st.output()
                await asyncio.sleep(0.05)
            return [m[2] for m in srv.messages if m[0] == 2], st.output()
        finally:
            st.stop()
            await srv.stop()

    return asyncio.run(go())


def _connect_failed(out):
    return any(" W conn: connect to " in ln and " failed: " in ln for ln in out.splitlines())


def test_right_ca_and_host_name_connect(pki):
    sent, out = _run(pki, "localhost", "ca.der")
    assert sent[:1] == ["BootNotification"], out


def test_wrong_ca_is_refused(pki):
    sent, out = _run(pki, "localhost", "other.der", refused=True)
    assert sent == [] and "not correctly signed by the trusted CA" in out, out


def test_wrong_host_name_is_refused(pki):
    sent, out = _run(pki, "127.0.0.1", "ca.der", refused=True)
    assert sent == [] and "Common Name (CN) does not match" in out, out


def test_client_certificate_for_security_profile_3(pki):
    d, _ = pki
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "server.pem"), str(d / "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(d / "ca.pem"))
    sent, out = _run(pki, "localhost", "ca.der", refused=True, ctx=ctx)
    assert sent == [], out  # no client certificate: the server refuses the handshake
    sent, out = _run(pki, "localhost", "ca.der", ctx=ctx, cert=str(d / "client.der"), key=str(d / "client.key.der"))
    assert sent[:1] == ["BootNotification"], out


# Under the Unix port: ws.py's socket module and the TLS context wrapped so that every setsockopt and the
# socket handed to wrap_socket are recorded, then one Heartbeat over the TLS connection. Sock is a stream
# (io.IOBase) around a real socket: TLS calls a native socket subclass's C functions with the wrong object.
_NODELAY_MP = """
import asyncio, io, json, select, socket, sys
from station.transport import net, ws
rec = []

class Sock(io.IOBase):
    def __init__(self, *a):
        self.s = socket.socket(*a)
    def setsockopt(self, *a):
        rec.append(["setsockopt", id(self), list(a)])
        return self.s.setsockopt(*a)
    def setblocking(self, f):
        self.s.setblocking(f)
    def connect(self, a):
        self.s.connect(a)
    def close(self):
        self.s.close()
    def readinto(self, b):
        return self.s.readinto(b)
    def write(self, b):
        return self.s.write(b)
    def ioctl(self, req, arg):
        if req == 10:  # MP_STREAM_GET_FILENO: polled like the real socket
            return self.s.fileno()
        if req == 3:  # MP_STREAM_POLL
            p = select.poll()
            p.register(self.s, arg)
            r = p.poll(0)
            return r[0][1] if r else 0
        if req == 4:  # MP_STREAM_CLOSE
            self.s.close()
            return 0
        return -22

class Mod:
    SOCK_STREAM = socket.SOCK_STREAM
    getaddrinfo = socket.getaddrinfo
    socket = Sock

class Ctx:
    def __init__(self, real):
        self.real = real
    def wrap_socket(self, sock, **kw):
        rec.append(["wrap", id(sock), kw.get("server_hostname")])
        return self.real.wrap_socket(sock, **kw)

async def main(url, ca):
    net.socket = Mod  # ws.py's sockets are opened by net.py
    with open(ca, "rb") as f:
        ctx = Ctx(ws.tls_context(f.read()))
    c = await ws.connect(url, ssl=ctx)
    await c.send('[2, "n1", "Heartbeat", {}]')
    rec.append(["recv", await asyncio.wait_for_ms(c.recv(), 5000)])
    print("REC " + json.dumps(rec))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _against_tls_server(ctx, script, args):
    """Run a MicroPython script (argv from args(port)) against the TLS audit server: (output, messages)."""
    srv = await AuditServer(ssl=ctx).start()
    try:
        p = await asyncio.create_subprocess_exec(
            micropython(), "-X", "heapsize=256K", str(script), *args(srv.port),
            env=dict(os.environ, MICROPYPATH=micropypath()),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out = (await asyncio.wait_for(p.communicate(), 20))[0].decode("utf-8", "replace")
        return out, srv.messages
    finally:
        await srv.stop()


def test_tcp_nodelay_is_set_on_the_socket_under_tls(pki, tmp_path):
    d, ctx = pki
    script = tmp_path / "nodelay.py"
    script.write_text(_NODELAY_MP)

    out, msgs = asyncio.run(_against_tls_server(ctx, script, lambda port: ["wss://localhost:%d/CS1" % port,
                                                                           str(d / "ca.der")]))
    assert "REC " in out, out
    rec = json.loads(out.split("REC ", 1)[1].splitlines()[0])
    assert rec[-1][0] == "recv" and json.loads(rec[-1][1])[:2] == [3, "n1"], rec  # the TLS session works
    assert [m[2] for m in msgs if m[0] == 2] == ["Heartbeat"]
    wraps = [r for r in rec if r[0] == "wrap"]
    assert len(wraps) == 1 and wraps[0][2] == "localhost", rec  # TLS checks the URL's host name
    tls_sock = wraps[0][1]
    nodelay = [i for i, r in enumerate(rec) if r[0] == "setsockopt" and r[1] == tls_sock and r[2] == [6, 1, 1]]
    assert nodelay and nodelay[0] < rec.index(wraps[0]), rec  # on that socket, before TLS wrapped it


_ADDR_MP = """
import asyncio, sys
from station.transport import ws

async def main(port, ca):
    with open(ca, "rb") as f:
        ctx = ws.tls_context(f.read())
    for host in ("localhost", "127.0.0.1"):  # the same address; only the URL's host name differs
        try:
            await ws.connect("wss://%s:%d/CS1" % (host, port), ssl=ctx, addr=ws.resolve("localhost", port))
            print("CONNECTED", host)
        except Exception as e:
            print("REFUSED", host, repr(e))

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
"""


def test_tls_checks_the_url_host_name_when_the_address_is_given(pki, tmp_path):
    d, ctx = pki
    script = tmp_path / "addr.py"
    script.write_text(_ADDR_MP)

    out, _ = asyncio.run(_against_tls_server(ctx, script, lambda port: [str(port), str(d / "ca.der")]))
    assert "CONNECTED localhost" in out, out
    assert "REFUSED 127.0.0.1" in out and "Common Name (CN) does not match" in out, out
