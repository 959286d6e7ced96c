# CertificateSigned handling (Keystore.install) under MicroPython with a capped heap.
# (CPython's `cryptography` checks the same output independently in tests_host/test_csr.py.)
import os

from station.certs import csr, der, p256
from station.certs.keystore import ACCEPTED, CS, REJECTED, V2G, Keystore
from mptest import eq, raises
from station.store import Store

HEAP = "80K"  # mostly for compiling the modules from source here; frozen on the board (tools/bench/csr.py)
TIMEOUT = 30
_ROOT = "/tmp/mpt_certs_install"


def _ks():
    os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return Keystore(Store(_ROOT))


def _fake_cert(x, y, compressed=False, validity=(b"260101000000Z", b"360101000000Z")):
    # Structurally a v3 certificate (what the reader walks); its signature is junk, which the
    # station does not check (no chain validation there).
    pt = (b"\x02" if y % 2 == 0 else b"\x03") + p256.i2b(x) if compressed else b"\x04" + p256.i2b(x) + p256.i2b(y)
    spki = der.seq(der.seq(der.OID_EC_PUBKEY, der.OID_P256), der.bits(pt))
    alg = der.seq(der.OID_ECDSA_SHA256)
    nm = csr.name("CA", "Test CA")
    validity = der.seq(*(der.tlv(0x17 if len(t) == 13 else 0x18, t) for t in validity))
    tbs = der.seq(der.tlv(0xA0, der.uint(2)), der.uint(0x1234), alg, nm, validity, csr.name("SN1", "Org"), spki)
    return csr.pem(der.seq(tbs, alg, der.bits(b"\x30\x00")), "CERTIFICATE")


def _installed(ks, slot):
    # The installed certificate as the store keeps it on flash: {"d", "x", "y", "t", "chain"} or None.
    return ks._load(slot + ".crt", "chain")


async def test_install_matching_certificate():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    chain = _fake_cert(p["x"], p["y"]) + _fake_cert(1, 2)  # leaf first, then a (junk) CA
    eq(ks.install(CS, chain), (ACCEPTED, None))
    eq(ks.pending(CS), None)
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))
    rec = _installed(ks, "cs")
    eq(rec["chain"], chain)
    eq((rec["d"], rec["x"], rec["y"]), (p["d"], p["x"], p["y"]))  # the key of the CSR, kept with it
    eq(ks.install(CS, chain), (ACCEPTED, None))  # the same CertificateSigned again: still fine
    eq(_installed(Keystore(Store(_ROOT)), "cs")["chain"], chain)  # on flash


async def test_renewal_keeps_old_certificate_until_new_one_arrives():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    old = _fake_cert(p["x"], p["y"])
    eq(ks.install(CS, old), (ACCEPTED, None))
    await ks.make_csr(CS, "SN1", "Org")
    eq(_installed(ks, "cs")["chain"], old)
    q = ks.pending(CS)
    eq(ks.install(CS, _fake_cert(q["x"], q["y"], compressed=True)), (ACCEPTED, None))
    assert _installed(ks, "cs")["chain"] != old


async def test_combined_request_matches_typed_or_untyped_answer():
    ks = _ks()
    await ks.make_csr(None, "SN1", "Org")
    p = ks.pending(None)
    eq(ks.install(CS, _fake_cert(p["x"], p["y"])), (ACCEPTED, None))
    assert _installed(ks, "comb") is not None  # a combined certificate, for both types
    await ks.make_csr(V2G, "SECC1", "Org")
    q = ks.pending(V2G)
    eq(ks.install(None, _fake_cert(q["x"], q["y"])), (ACCEPTED, None))


async def test_certificate_for_another_key_is_rejected():
    ks = _ks()
    eq(ks.install(CS, _fake_cert(p256.GX, p256.GY)), (REJECTED, "NoPendingRequest"))
    await ks.make_csr(CS, "SN1", "Org")
    eq(ks.install(CS, _fake_cert(p256.GX, p256.GY)), (REJECTED, "KeyMismatch"))
    p = ks.pending(CS)
    eq(ks.install(V2G, _fake_cert(p["x"], p["y"])), (REJECTED, "NoPendingRequest"))  # wrong slot
    eq(ks.install("Bogus", _fake_cert(p["x"], p["y"])), (REJECTED, "UnknownType"))
    assert ks.pending(CS) is not None


def _malformed(good):
    from station.certs import x509

    yield from (None, 5, b"bytes", "", "garbage", "-----BEGIN CERTIFICATE-----\nMII")
    yield "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n"
    yield good.replace("-----END CERTIFICATE-----", "")

    body = x509.unpem(good)[0]
    for n in range(0, len(body), 7):  # truncated at many points (step 7 keeps it quick)
        yield csr.pem(body[:n], "CERTIFICATE")
    k = body.find(der.OID_EC_PUBKEY)
    # corrupted outer tags and lengths, key algorithm, curve, point format
    for i in (0, 1, 4, 5, k + 3, k + len(der.OID_EC_PUBKEY) + 8, len(body) - 17 - 65):  # tail: sigAlg 12 + signature 5
        b = bytearray(body)
        b[i] ^= 0x5A
        yield csr.pem(bytes(b), "CERTIFICATE")


async def test_expired_certificate_is_rejected():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    old = (b"150101000000Z", b"20200101000000Z")  # UTCTime and GeneralizedTime; the host clock is set
    eq(ks.install(CS, _fake_cert(p["x"], p["y"], validity=old)), (REJECTED, "CertificateExpired"))
    assert ks.pending(CS) is not None
    bad = (b"2601010000Z", b"360101000000Z")  # a time without seconds: not DER
    eq(ks.install(CS, _fake_cert(p["x"], p["y"], validity=bad)), (REJECTED, "InvalidCertificate"))
    far = (b"20260101000000Z", b"20991231235959Z")
    eq(ks.install(CS, _fake_cert(p["x"], p["y"], validity=far)), (ACCEPTED, None))


async def test_malformed_input_is_rejected_never_raised():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    good = _fake_cert(p["x"], p["y"])
    for c in _malformed(good):
        status, reason = ks.install(CS, c)
        eq(status, REJECTED)
        eq(reason, "InvalidCertificate")
    assert ks.pending(CS) is not None
    eq(ks.install(CS, good), (ACCEPTED, None))


async def test_damaged_key_file_is_dropped_not_fatal():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    ks.store.write("cs.pend", b'{"d": "zz"')
    eq(ks.install(CS, _fake_cert(1, 2)), (REJECTED, "NoPendingRequest"))
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))  # nothing left to wait for: not blocked


def test_der_reader_bounds_and_times():
    from station.certs import x509

    eq(x509.read(b"\x04\x82\x01\x00" + bytes(256), 0), (4, 4, 260))
    raises(ValueError, x509.read, b"\x04\x80", 0)  # indefinite length is not DER
    raises(ValueError, x509.read, b"\x04\x05abc", 0)
    eq(x509._time(b"491231235959Z", (0x17, 0, 13)), b"20491231235959")
    eq(x509._time(b"500101000000Z", (0x17, 0, 13)), b"19500101000000")
    eq(x509._time(b"20500101000000Z", (0x18, 0, 15)), b"20500101000000")
    for bad in (
        (b"5001010000Z", 0x17),
        (b"2050010100000+", 0x18),
        (b"20500101000000Z", 0x17),
        (b"5001010000a0Z", 0x17),
    ):
        raises(ValueError, x509._time, bad[0], (bad[1], 0, len(bad[0])))
