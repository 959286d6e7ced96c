"""wss:// with a throw-away CA: the right CA and host name are accepted, a wrong CA or host name refused."""

import asyncio
import datetime
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from peers.stationproc import Station
from peers.wsserver import AuditServer


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


def _run(pki, host, ca, ctx=None, **kw):
    d, server_ctx = pki
    ctx = ctx or server_ctx

    async def go():
        srv = await AuditServer(ssl=ctx).start()
        st = Station("wss://%s:%d" % (host, srv.port), ca=str(d / ca), **kw).start()
        try:
            t0 = time.time()
            while not srv.messages and time.time() - t0 < 4:
                await asyncio.sleep(0.05)
            return [m[2] for m in srv.messages if m[0] == 2], st.output()
        finally:
            st.stop()
            await srv.stop()

    return asyncio.run(go())


def test_right_ca_and_host_name_connect(pki):
    sent, out = _run(pki, "localhost", "ca.der")
    assert sent[:1] == ["BootNotification"], out


def test_wrong_ca_is_refused(pki):
    sent, out = _run(pki, "localhost", "other.der")
    assert sent == [] and "not correctly signed by the trusted CA" in out, out


def test_wrong_host_name_is_refused(pki):
    sent, out = _run(pki, "127.0.0.1", "ca.der")
    assert sent == [] and "Common Name (CN) does not match" in out, out


def test_client_certificate_for_security_profile_3(pki):
    d, _ = pki
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(d / "server.pem"), str(d / "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(d / "ca.pem"))
    sent, out = _run(pki, "localhost", "ca.der", ctx=ctx)
    assert sent == [], out  # no client certificate: the server refuses the handshake
    sent, out = _run(pki, "localhost", "ca.der", ctx=ctx, cert=str(d / "client.der"), key=str(d / "client.key.der"))
    assert sent[:1] == ["BootNotification"], out
