# CertificateSigned handling (certs/signed.py over the keystore) under MicroPython with a capped heap,
# with a CA built here from the station's own DER encoder and P-256 signer. (CPython's `cryptography`
# plays the CA independently in tests_host/test_csr.py and test_certs_e2e.py.)
import os

from station.certs import csr, der, p256, signed, x509
from station.certs.keystore import ACCEPTED, CS, REJECTED, V2G, Keystore
from mptest import eq, raises
from station.store import Store

HEAP = "128K"  # mostly for compiling the modules from source here; frozen on the board (tools/bench/csr.py)
TIMEOUT = 60
_ROOT = "/tmp/mpt_certs_install"
_CA_D = 0x1234567890ABCDEF  # the test CA's private scalar (fixed: the test is deterministic)
_BC = der.seq(der.seq(b"\x06\x03\x55\x1d\x13", b"\x01\x01\xff", der.tlv(0x04, der.seq(b"\x01\x01\xff"))))
_YEARS = (b"260101000000Z", b"360101000000Z")


def _ks():
    os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return Keystore(Store(_ROOT))


def _cert(x, y, subject, issuer=None, d=_CA_D, ca=False, validity=_YEARS, compressed=False, serial=0x1234):
    # A v3 certificate for point (x, y), signed (ECDSA-SHA256) by private scalar d.
    pt = (b"\x02" if y % 2 == 0 else b"\x03") + p256.i2b(x) if compressed else csr.point(x, y)
    spki = der.seq(der.seq(der.OID_EC_PUBKEY, der.OID_P256), der.bits(pt))
    alg = der.seq(der.OID_ECDSA_SHA256)
    validity = der.seq(*(der.tlv(0x17 if len(t) == 13 else 0x18, t) for t in validity))
    ext = (der.tlv(0xA3, _BC),) if ca else ()
    tbs = der.seq(der.tlv(0xA0, der.uint(2)), der.uint(serial), alg, issuer or subject, validity, subject, spki, *ext)
    r, s = p256.run(p256.sign(d, tbs))
    return der.seq(tbs, alg, der.bits(der.seq(der.uint(r), der.uint(s))))


_CA_NAME = csr.name("Test CA", "Test Org")


def _ca():
    x, y = p256.run(p256.public(_CA_D))
    return x509.parse(_cert(x, y, _CA_NAME, ca=True))


def _leaf(x, y, cn="SN1", org="Org", **kw):
    return csr.pem(_cert(x, y, csr.name(cn, org), _CA_NAME, **kw), "CERTIFICATE")


async def _install(ks, kind, chain, anchors=None, cn="SN1"):
    return await (signed.install(ks, kind, chain, [_ca()] if anchors is None else anchors, "Org", cn))


def _installed(ks, slot):
    # The installed certificate as the store keeps it on flash: {"d", "x", "y", "t", "chain"} or None.
    return ks._load(slot + ".crt", "chain")


async def test_install_matching_certificate():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    chain = _leaf(p["x"], p["y"]) + csr.pem(_ca().der, "CERTIFICATE")  # leaf first, then the root itself
    eq(await _install(ks, CS, chain), (ACCEPTED, None))
    eq(ks.pending(CS), None)
    rec = _installed(ks, "cs")
    eq(rec["chain"], chain)
    eq((rec["d"], rec["x"], rec["y"]), (p["d"], p["x"], p["y"]))  # the key of the CSR, kept with it
    eq(await _install(ks, CS, chain), (ACCEPTED, None))  # the same CertificateSigned again: still fine
    eq(_installed(Keystore(Store(_ROOT)), "cs")["chain"], chain)  # on flash


async def test_chain_must_reach_a_trust_anchor_and_subject_be_ours():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    eq(await _install(ks, CS, _leaf(p["x"], p["y"]), anchors=[]), (REJECTED, "InvalidChain"))
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], d=_CA_D + 1)), (REJECTED, "InvalidChain"))  # another signer
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], cn="SN2")), (REJECTED, "SubjectMismatch"))
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], org="Other")), (REJECTED, "SubjectMismatch"))
    eq(await _install(ks, CS, _leaf(p["x"], p["y"]), cn="SN2"), (REJECTED, "SubjectMismatch"))
    assert ks.pending(CS) is not None  # still waiting for the right one
    eq(await _install(ks, CS, _leaf(p["x"], p["y"])), (ACCEPTED, None))


async def test_renewal_keeps_old_certificate_until_new_one_connects():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    old = _leaf(p["x"], p["y"])
    eq(await _install(ks, CS, old), (ACCEPTED, None))
    await ks.make_csr(CS, "SN1", "Org")
    eq(_installed(ks, "cs")["chain"], old)  # in use while the renewal waits
    q = ks.pending(CS)
    new = _leaf(q["x"], q["y"], compressed=True, serial=0x99)
    eq(await _install(ks, CS, new), (ACCEPTED, None))
    eq(_installed(ks, "cs")["chain"], new)
    eq(ks._load("cs.crt0", "chain")["chain"], old)  # the fallback (A02.FR.28)
    assert ks.revert()  # the new one could not connect: the old one is back
    eq(_installed(ks, "cs")["chain"], old)
    assert ks.revert()  # a first renewal that fails: back to the certificate the board was provisioned with
    eq(_installed(ks, "cs"), None)
    assert not ks.revert()


async def test_late_certificate_for_the_previous_request_still_fits():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    await ks.make_csr(CS, "SN1", "Org")  # a second trigger before the first was signed
    eq(await _install(ks, CS, _leaf(p["x"], p["y"])), (ACCEPTED, None))
    eq(_installed(ks, "cs")["d"], p["d"])


async def test_combined_request_matches_typed_or_untyped_answer():
    ks = _ks()
    await ks.make_csr(None, "SN1", "Org")
    p = ks.pending(None)
    eq(await _install(ks, CS, _leaf(p["x"], p["y"])), (ACCEPTED, None))
    assert _installed(ks, "comb") is not None  # a combined certificate, for both types
    await ks.make_csr(V2G, "SECC1", "Org")
    q = ks.pending(V2G)
    eq(await _install(ks, None, _leaf(q["x"], q["y"], cn="SECC1"), cn="SECC1"), (ACCEPTED, None))


async def test_certificate_for_another_key_is_rejected():
    ks = _ks()
    eq(await _install(ks, CS, _leaf(p256.GX, p256.GY)), (REJECTED, "NoPendingRequest"))
    await ks.make_csr(CS, "SN1", "Org")
    eq(await _install(ks, CS, _leaf(p256.GX, p256.GY)), (REJECTED, "KeyMismatch"))
    p = ks.pending(CS)
    eq(await _install(ks, V2G, _leaf(p["x"], p["y"])), (REJECTED, "NoPendingRequest"))  # wrong slot
    eq(await _install(ks, "Bogus", _leaf(p["x"], p["y"])), (REJECTED, "UnknownType"))
    assert ks.pending(CS) is not None


def _malformed(good):
    yield from (None, 5, b"bytes", "", "garbage", "-----BEGIN CERTIFICATE-----\nMII")
    yield "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n"
    yield good.replace("-----END CERTIFICATE-----", "")

    body = x509.unpem(good)[0]
    for n in range(0, len(body), 7):  # truncated at many points (step 7 keeps it quick)
        yield csr.pem(body[:n], "CERTIFICATE")
    k = body.find(der.OID_EC_PUBKEY)
    # corrupted outer tags and lengths, key algorithm, curve, point format
    for i in (0, 1, 4, 5, k + 3, k + len(der.OID_EC_PUBKEY) + 8):
        b = bytearray(body)
        b[i] ^= 0x5A
        yield csr.pem(bytes(b), "CERTIFICATE")


async def test_expired_or_future_certificate_is_rejected():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    old = (b"150101000000Z", b"20200101000000Z")  # UTCTime and GeneralizedTime; the host clock is set
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], validity=old)), (REJECTED, "CertificateExpired"))
    future = (b"20900101000000Z", b"20991231235959Z")  # errata 2025-01: not valid yet is refused too
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], validity=future)), (REJECTED, "NotYetValid"))
    assert ks.pending(CS) is not None
    bad = (b"2601010000Z", b"360101000000Z")  # a time without seconds: not DER
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], validity=bad)), (REJECTED, "InvalidCertificate"))
    far = (b"20260101000000Z", b"20991231235959Z")
    eq(await _install(ks, CS, _leaf(p["x"], p["y"], validity=far)), (ACCEPTED, None))


async def test_malformed_input_is_rejected_never_raised():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    p = ks.pending(CS)
    good = _leaf(p["x"], p["y"])
    for c in _malformed(good):
        status, reason = await _install(ks, CS, c)
        eq(status, REJECTED)
        assert reason in ("InvalidCertificate", "ChainTooLong", "KeyMismatch", "InvalidChain"), reason
    assert ks.pending(CS) is not None
    eq(await _install(ks, CS, good), (ACCEPTED, None))


async def test_damaged_key_file_is_dropped_not_fatal():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    ks.store.write("cs.pend", b'{"d": "zz"')
    eq(await _install(ks, CS, _leaf(1, 2)), (REJECTED, "NoPendingRequest"))
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))


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
