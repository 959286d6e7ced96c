"""The station's CSRs and CertificateSigned handling, checked by CPython's `cryptography`.

The firmware side (firmware/station/certs) runs under the MicroPython Unix port with a capped heap, writing its
keys to a store directory exactly as on flash; `cryptography` is the independent peer that verifies the
CSR and plays the CA."""

import base64
import datetime
import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
from mpharness import run_mp

HEAP = "64K"
MUT_HEAP = "128K"  # the certificate handlers compiled from source here (frozen on a board)
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_MAKE = """
import asyncio
from station.certs.keystore import Keystore
from station.store import Store
ks = Keystore(Store(%r))
print("CAN", ks.can_request(%r, %r, %r))
pem = asyncio.run(ks.make_csr(%r, %r, %r))
print("CAN", ks.can_request(%r, %r, %r))
print("PEM<" + pem + ">PEM")
"""

_INSTALL = """
import asyncio
import json
from station.certs.handlers import Handlers
from station.certs.keystore import Keystore
from station.model.device_model import DeviceModel
from station.model.txq import TxQueue
from station.session.security import Security
from station.store import Store
st = Store(%r)
ks = Keystore(st)
dm = DeviceModel(None, None, {"SecurityCtrlr.OrganizationName": %r})
sec = Security(TxQueue(st.sub("sec"), 20, "SecurityEventNotification"))
events = 0
h = Handlers(ks, st, dm, %r, sec)
with open(%r) as f:
    print("ROOT", h.install({"certificateType": "CSMSRootCertificate", "certificate": f.read()})["status"])
with open(%r) as f:  # one case per line: the whole set would not fit the capped heap
    for line in f:
        kind, chain = json.loads(line)
        req = {"certificateChain": chain}
        if kind:
            req["certificateType"] = kind
        r = asyncio.run(h.certificate_signed(req))
        r = r[0] if isinstance(r, tuple) else r
        print("RESULT", json.dumps([r["status"], r.get("statusInfo", {}).get("reasonCode")]))
        while sec.q.peek():  # what the outbox does once the CSMS has each one
            events += 1
            sec.q.ack(sec.q.peek()[0])
print("EVENTS", events)
got = ks._load(%r + ".crt")  # the installed certificate's record on flash
print("KEY", "%%064x" %% got["d"] if got else None)
"""


def _run(tmp_path, script, heap=HEAP):
    path = tmp_path / "script.py"
    path.write_text(script)
    rc, out = run_mp([str(path)], heap=heap, timeout=60)
    assert rc == 0 and "Traceback" not in out, out
    return out


def make_csr(tmp_path, kind, cn, org):
    store = str(tmp_path / "flash")
    out = _run(tmp_path, _MAKE % ((store,) + (kind, cn, org) * 3))
    can = [line for line in out.splitlines() if line.startswith("CAN ")]
    assert can == ["CAN (True, None)", "CAN (True, None)"], out  # one sent does not block the next (F06.FR.10)
    return out.split("PEM<", 1)[1].split(">PEM", 1)[0]


def install(tmp_path, cases, root, slot="cs", heap=MUT_HEAP, cn="SN-0001", org="Example Charging Ltd."):
    """CertificateSigned cases [kind, chain] through the station's handlers after installing `root` (PEM)
    as CSMSRootCertificate: ([(status, reasonCode)], private key of the installed certificate or None,
    security events queued)."""
    store = str(tmp_path / "flash")
    cfile = tmp_path / "cases.json"
    cfile.write_text("".join(json.dumps(c) + "\n" for c in cases))
    rfile = tmp_path / "root.pem"
    rfile.write_text(root)
    out = _run(tmp_path, _INSTALL % (store, org, cn, str(rfile), str(cfile), slot), heap=heap)
    assert "ROOT Accepted" in out, out
    results = [tuple(json.loads(line[7:])) for line in out.splitlines() if line.startswith("RESULT ")]
    assert len(results) == len(cases), out
    key = [line[4:] for line in out.splitlines() if line.startswith("KEY ")][0]
    events = int([line[7:] for line in out.splitlines() if line.startswith("EVENTS ")][0])
    return results, (None if key == "None" else int(key, 16)), events


@pytest.mark.parametrize(
    "kind, cn, org",
    [
        ("ChargingStationCertificate", "SN-0001", "Example Charging Ltd."),
        ("V2GCertificate", "DE*ABC*E123456", "Müller Ladetechnik GmbH"),  # '*' and 'ü': UTF8String
        (None, "SN-0001", "Example Charging Ltd."),
    ],
)
def test_csr_is_valid_pkcs10_p256_with_configured_subject(tmp_path, kind, cn, org):
    pem = make_csr(tmp_path, kind, cn, org)
    # PEM framing: header, base64 in 64-character lines, footer, within the SignCertificate schema limit.
    lines = pem.split("\n")
    assert lines[0] == "-----BEGIN CERTIFICATE REQUEST-----"
    assert lines[-2:] == ["-----END CERTIFICATE REQUEST-----", ""]
    body = lines[1:-2]
    assert all(len(x) == 64 for x in body[:-1]) and 0 < len(body[-1]) <= 64
    assert len(pem) <= 5500
    der = base64.b64decode("".join(body), validate=True)

    req = x509.load_pem_x509_csr(pem.encode())
    assert req.is_signature_valid
    assert req.public_bytes(serialization.Encoding.DER) == der
    assert req.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert isinstance(req.signature_hash_algorithm, hashes.SHA256)
    key = req.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    assert [a.value for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [cn]
    assert [a.value for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [org]
    assert len(req.subject) == 2 and len(req.attributes) == 0

    # The private key kept on flash is the one that matches the CSR (and it is not in the CSR).
    slot = {"ChargingStationCertificate": "cs", "V2GCertificate": "v2g", None: "comb"}[kind]
    head, stored_csr = (tmp_path / "flash" / (slot + ".pend")).read_text().split("\n", 1)
    d_hex = head.split()[0]
    assert stored_csr == pem
    priv = ec.derive_private_key(int(d_hex, 16), ec.SECP256R1())
    assert priv.public_key() == key
    assert d_hex not in der.hex()


def test_scalar_mult_and_signatures_match_cryptography(tmp_path):
    rng = random.Random(6979)
    keys = [1, 2, N - 1, 1 << 255] + [rng.randrange(1, N) for _ in range(6)]
    msgs = [b"", b"sample", bytes(rng.randrange(256) for _ in range(1000))] + [rng.randbytes(37) for _ in range(7)]
    script = "from station.certs import p256\n" + "".join(
        "pub = p256.run(p256.public(%d))\nsig = p256.run(p256.sign(%d, %r))\n"
        "print('V', pub[0], pub[1], sig[0], sig[1])\n" % (d, d, m)
        for d, m in zip(keys, msgs, strict=True)
    )
    out = _run(tmp_path, script, heap="32K")
    rows = [tuple(int(v) for v in line.split()[1:]) for line in out.splitlines() if line.startswith("V ")]
    assert len(rows) == len(keys)
    for d, m, (x, y, r, s) in zip(keys, msgs, rows, strict=True):
        priv = ec.derive_private_key(d, ec.SECP256R1())
        nums = priv.public_key().public_numbers()
        assert (x, y) == (nums.x, nums.y), d
        priv.public_key().verify(encode_dss_signature(r, s), m, ec.ECDSA(hashes.SHA256()))
        # RFC 6979: the very same signature as cryptography's deterministic mode.
        theirs = priv.sign(m, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        assert decode_dss_signature(theirs) == (r, s)


def _ca(key_kind):
    key = ec.generate_private_key(ec.SECP256R1()) if key_kind == "ec" else rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CPO Sub-CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(ca_key, ca_cert, req_or_key, subject=None, days=365, start=0):
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=start)
    pub = req_or_key.public_key()
    subj = subject or req_or_key.subject
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.KeyUsage(True, False, True, False, True, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("ca_kind", ["ec", "rsa"])
def test_certificate_signed_for_our_key_is_installed(tmp_path, ca_kind):
    pem = make_csr(tmp_path, "ChargingStationCertificate", "SN-0001", "Example Charging Ltd.")
    req = x509.load_pem_x509_csr(pem.encode())
    ca_key, ca_cert = _ca(ca_kind)
    chain = _leaf(ca_key, ca_cert, req) + ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    other = _leaf(ca_key, ca_cert, ec.generate_private_key(ec.SECP256R1()), req.subject)
    expired = _leaf(ca_key, ca_cert, req, days=30, start=-60)
    long_lived = _leaf(ca_key, ca_cert, req, days=40 * 365)  # past 2050: GeneralizedTime
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    results, d, events = install(
        tmp_path,
        [
            ["ChargingStationCertificate", other],  # someone else's key: refused, request still waiting
            ["V2GCertificate", chain],  # our key but for a type we never asked
            ["ChargingStationCertificate", expired],
            ["ChargingStationCertificate", long_lived],
            ["ChargingStationCertificate", chain],
            ["ChargingStationCertificate", chain],  # repeated: harmless
        ],
        ca_pem,
    )
    assert results == [
        ("Rejected", "KeyMismatch"),
        ("Rejected", "NoPendingRequest"),
        ("Rejected", "CertificateExpired"),
        ("Accepted", None),
        ("Accepted", None),
        ("Accepted", None),
    ]
    # The key kept with the installed certificate belongs to it.
    priv = ec.derive_private_key(d, ec.SECP256R1())
    assert priv.public_key() == x509.load_pem_x509_certificate(chain.encode()).public_key()
    assert not (tmp_path / "flash" / "cs.pend").exists()
    assert events == 3  # one InvalidChargingStationCertificate per rejection (A02.FR.07), queued on flash


def _mutations(chain, rng):
    der = x509.load_pem_x509_certificate(chain.encode()).public_bytes(serialization.Encoding.DER)

    def pem(b):
        return "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(b).decode() + "-----END CERTIFICATE-----\n"

    yield "", "garbage", "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----"
    yield pem(rng.randbytes(300))
    for n in range(0, len(chain), 37):
        yield chain[:n]
    for n in range(0, len(der), 5):
        yield pem(der[:n])
    for _ in range(150):
        b = bytearray(der)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        yield pem(bytes(b))


def test_malformed_certificate_chains_are_rejected_without_crashing(tmp_path):
    pem = make_csr(tmp_path, "ChargingStationCertificate", "SN-0001", "Example Charging Ltd.")
    req = x509.load_pem_x509_csr(pem.encode())
    ca_key, ca_cert = _ca("ec")
    chain = _leaf(ca_key, ca_cert, req)
    rng = random.Random(5)
    cases = []
    for m in _mutations(chain, rng):
        cases += [["ChargingStationCertificate", x] for x in ([m] if isinstance(m, str) else m)]
    good = x509.load_pem_x509_certificate(chain.encode()).public_bytes(serialization.Encoding.DER)
    results, _, events = install(tmp_path, cases, ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
                                 heap=MUT_HEAP)
    for (_, text), (status, reason) in zip(cases, results, strict=True):
        if status == "Accepted":  # the CA's signature covers every byte: only an unchanged certificate passes
            assert base64.b64decode("".join(text.split("\n")[1:-2])) == good
        else:
            assert status == "Rejected", text
            assert reason in ("InvalidCertificate", "KeyMismatch", "NoPendingRequest", "InvalidChain",
                              "SubjectMismatch", "CertificateExpired", "NotYetValid"), (text, reason)
    assert events == sum(r[0] == "Rejected" for r in results) > len(cases) * 9 // 10
    # Over the schema's 10000 characters: refused before any parsing (a bigger heap just to hold it).
    big = chain * (10001 // len(chain) + 1)
    assert len(big) > 10000
    results, _, _ = install(tmp_path, [["ChargingStationCertificate", big]],
                            ca_cert.public_bytes(serialization.Encoding.PEM).decode(), heap="160K")
    assert results == [("Rejected", "ChainTooLong")]
