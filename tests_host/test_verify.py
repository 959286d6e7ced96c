"""Signature verification and X.509 reading (firmware/station/certs: p256, rsa, x509, verify), checked by
CPython's `cryptography`.

`cryptography` makes the keys, signatures and certificate chains; the MicroPython side
(tests_host/mp/mpt_verify.py, its case_* functions) runs them under the Unix port with a capped heap and
prints what the firmware found, one line per input, which is compared here with what cryptography says.
Randomness is pinned where the library allows: P-256 and RSA keys come from seeded numbers (RSA primes by a
seeded Miller-Rabin search), ECDSA signatures are RFC 6979 deterministic, certificate times and serials are
fixed. RSA-PSS salts stay random (cryptography draws them): the check is against cryptography either way."""

import ast
import datetime
import functools
import json
import os
import random
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from mpharness import MP_DIR, PASS_MARK, ROOT, RUNNER, run_mp

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
UTC = datetime.UTC
NOW = "20260601000000"  # the station's clock in every chain case (certificates are valid 2025..2035)
MPT = os.path.join(MP_DIR, "mpt_verify.py")
_HEAPS = dict(re.findall(r"^def (case_\w+)\(\):\s*#\s*heap:\s*(\w+)", open(MPT).read(), re.M))


def mp_case(tmp_path, case, records, timeout=120):
    """Run mpt_verify.<case> on records (a key letter, then bytes / str / int fields) under its `# heap:`;
    returns its results, one per record it answered."""
    path = tmp_path / (case + ".bin")
    with open(path, "wb") as f:
        for key, *fields in records:
            f.write(key.encode() + bytes([len(fields)]))
            for v in fields:
                v = v.encode() if isinstance(v, str) else v.to_bytes(32, "big") if isinstance(v, int) else v
                f.write(len(v).to_bytes(2, "big") + v)
    rc, out = run_mp([RUNNER, MP_DIR, "mpt_verify", case, str(path)], heap=_HEAPS[case], timeout=timeout)
    assert rc == 0 and PASS_MARK in out, out
    return [json.loads(x[2:]) for x in out.splitlines() if x.startswith("R ")]


# ---- keys, pinned ----

_SMALL = [p for p in range(3, 2000, 2) if all(p % q for q in range(3, int(p**0.5) + 1, 2))]


def _prime(rng, bits):
    # top two bits set: the product of two such primes has exactly the sum of their bit lengths
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if any(c % p == 0 for p in _SMALL):
            continue
        d, s = c - 1, 0
        while not d & 1:
            d, s = d >> 1, s + 1
        for _ in range(24):  # Miller-Rabin
            x = pow(rng.randrange(2, c - 1), d, c)
            if x in (1, c - 1):
                continue
            for _ in range(s - 1):
                x = x * x % c
                if x == c - 1:
                    break
            else:
                break
        else:
            return c


@functools.cache
def rsa_key(bits, seed=1):
    """An RSA private key of exactly `bits` bits (any size, also not a multiple of 8), the same every run."""
    rng = random.Random("rsa-%d-%d" % (bits, seed))
    e = 65537
    while True:
        p, q = _prime(rng, (bits + 1) // 2), _prime(rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    pub = rsa.RSAPublicNumbers(e, p * q)
    key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub).private_key()
    assert key.key_size == bits
    return key


def ec_key(seed):
    return ec.derive_private_key(random.Random("ec-%s" % seed).randrange(1, N), ec.SECP256R1())


def spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def flip(b, i, bit=1):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)


def sha(m):
    h = hashes.Hash(hashes.SHA256())
    h.update(m)
    return h.finalize()


# ---- signatures ----


def test_ecdsa_signatures_verify_and_tampering_fails(tmp_path):
    rng = random.Random(2001)
    lines, want = [], []
    for i in range(6):
        key = ec_key(i)
        m = rng.randbytes(rng.randrange(0, 300))
        sig = key.sign(m, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        pub = spki(key)
        h = sha(m)
        pt = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        comp = b"\x30\x39" + pub[2:23] + b"\x03\x22\x00" + pt  # the same key, compressed (pub[2:23]: its algorithm)
        key.public_key().verify(sig, m, ec.ECDSA(hashes.SHA256()))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pt).verify(sig, m, ec.ECDSA(hashes.SHA256()))
        cases = [
            (pub, h, sig, True),
            (comp, h, sig, True),
            (pub, flip(h, rng.randrange(32), 1 << rng.randrange(8)), sig, False),  # message
            (pub, h, flip(sig, len(sig) - 1 - rng.randrange(20)), False),  # inside s
            (pub, h, flip(sig, 5 + rng.randrange(20)), False),  # inside r
            (pub, h, flip(sig, 1), False),  # the DER length: malformed, still just False
            (pub, h, sig + b"\x00", False),
            (pub, h, b"", False),
            (flip(pub, len(pub) - 1 - rng.randrange(32)), h, sig, False),  # y: off the curve
            (flip(pub, len(pub) - 40), h, sig, False),  # x
            (spki(ec_key(i + 100)), h, sig, False),  # another key
        ]
        lines += [["d", k, hh, s] for k, hh, s, _ in cases]
        want += [w for *_, w in cases]
    got = mp_case(tmp_path, "case_digest", lines)
    assert got == want


def test_p256_verify_with_ints_matches_cryptography(tmp_path):
    # Keys 1, 2, N-1 (Q = G, 2G, -G: G+Q is 2G or the point at infinity) and random ones, high and low s.
    rng = random.Random(31)
    lines, want = [], []
    for d in [1, 2, 3, N - 1, N - 2] + [rng.randrange(1, N) for _ in range(5)]:
        key = ec.derive_private_key(d, ec.SECP256R1())
        nums = key.public_key().public_numbers()
        m = rng.randbytes(50)
        r, s = decode_dss_signature(key.sign(m, ec.ECDSA(hashes.SHA256())))  # random k here
        for rr, ss, ok in ((r, s, True), (r, N - s, True), (r, s ^ 4, False), (r ^ 1, s, False)):
            if ok:
                key.public_key().verify(encode_dss_signature(rr, ss), m, ec.ECDSA(hashes.SHA256()))
            lines.append(["e", nums.x, nums.y, sha(m), rr, ss])
            want.append([ok, True, 257])  # a yield per bit, then the result
    assert mp_case(tmp_path, "case_ecdsa", lines) == want


def test_der_signatures_are_parsed_strictly(tmp_path):
    key = ec_key("der")
    good = [key.sign(b"m%d" % i, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)) for i in range(8)]
    good.append(encode_dss_signature(1, 1))
    good.append(encode_dss_signature(N - 1, 0x80))  # s needs a 0 octet in front
    bad = [b"", good[0][:-1], good[0] + b"\x00", b"\x31" + good[0][1:], flip(good[0], 2, 0x06)]
    bad.append(b"\x30\x81" + good[0][1:])  # long length form
    bad.append(bytes.fromhex("300702020005020101"))  # r not minimal
    bad.append(bytes.fromhex("3006020185020101"))  # r negative
    bad.append(bytes.fromhex("30060201050201"))  # s cut short
    bad.append(encode_dss_signature(1, 1 << 300))  # 38 octets
    rng = random.Random(72)
    for _ in range(60):  # random damage: parsed exactly as cryptography's decoder would, or refused
        b = bytearray(rng.choice(good[:8]))
        b[rng.randrange(len(b))] = rng.randrange(256)
        bad.append(bytes(b))
    got = mp_case(tmp_path, "case_der_sig", [["s", s] for s in good + bad])
    assert got[: len(good)] == [["%x" % v for v in decode_dss_signature(s)] for s in good]
    for s, g in zip(bad, got[len(good) :], strict=True):
        try:  # accepted: exactly what DER allows (re-encoded bit for bit), both >= 0, at most 33 octets each
            r_s = decode_dss_signature(s)
            strict = min(r_s) >= 0 and encode_dss_signature(*r_s) == s and max(r_s).bit_length() <= 263
        except ValueError:
            strict = False
        if strict:
            assert g == ["%x" % v for v in r_s], s.hex()
        else:
            assert g == "ValueError", s.hex()


@pytest.mark.parametrize("bits", [2048, 2049, 3072, 3073, 4096])
def test_rsa_pss_and_pkcs1v15(tmp_path, bits):
    # 2049 and 3073 bits: emBits = modBits - 1 is a multiple of 8, the PSS block one octet shorter than the
    # modulus (its leading zero octet is where a wrong emLen fails).
    key = rsa_key(bits)
    pub = spki(key)
    rng = random.Random(bits)
    lines, want = [], []
    n_hex = sha(b"%x" % key.public_key().public_numbers().n).hex()
    mgf = padding.MGF1(hashes.SHA256())
    schemes = [
        ("v15", padding.PKCS1v15()),
        ("pss", padding.PSS(mgf, 32)),
        ("pss", padding.PSS(mgf, padding.PSS.MAX_LENGTH)),
        ("pss", padding.PSS(mgf, 0)),
        ("pss", padding.PSS(mgf, 77)),
    ]
    for kind, pad in schemes:
        m = rng.randbytes(100)
        h = sha(m)
        sig = key.sign(h, pad, Prehashed(hashes.SHA256()))
        key.public_key().verify(sig, m, pad, hashes.SHA256())
        ok = [True, kind == "pss", kind == "v15"]
        for hh, s, w in (
            (h, sig, ok),
            (flip(h, rng.randrange(32)), sig, [False] * 3),
            (h, flip(sig, rng.randrange(1, len(sig))), [False] * 3),
            (h, sig[1:], [False] * 3),  # not the modulus' length
            (h, b"\xff" * len(sig), [False] * 3),  # >= n
        ):
            lines.append(["r", pub, hh, s])
            want.append([n_hex, 65537] + w)
        # The key with a bit of its modulus flipped (kept odd, same size): refuses every signature.
        other = flip(pub, len(pub) - 10, 0x10)
        lines.append(["r", other, h, sig])
        want.append(["other", 65537, False, False, False])
    got = mp_case(tmp_path, "case_rsa", lines)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[1:] == w[1:]
        assert g[0] == w[0] if w[0] != "other" else g[0] != n_hex


def test_rsa_keys_under_2048_bits_are_refused_and_digest_picks_the_scheme(tmp_path):
    small = rsa_key(1024)
    h = sha(b"x")
    sig = small.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    big = rsa_key(3072)
    pss = big.sign(b"x", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    v15 = big.sign(b"x", padding.PKCS1v15(), hashes.SHA256())
    p384 = ec.derive_private_key(0x1234567, ec.SECP384R1())
    lines = [
        ["r", spki(small), h, sig],
        ["r", spki(rsa_key(2047)), h, sig],
    ]
    got = mp_case(tmp_path, "case_rsa", lines)
    assert got == ["ValueError", "ValueError"]
    lines = [
        ["d", spki(small), h, sig],
        ["d", spki(big), h, pss],
        ["d", spki(big), h, v15],
        ["d", spki(big), h, flip(v15, 100)],
        ["d", spki(p384), h, p384.sign(b"x", ec.ECDSA(hashes.SHA256()))],  # P-384: unsupported
        ["d", b"\x30\x03\x02\x01\x01", h, v15],
        ["d", spki(big) + b"\x00", h, v15],
    ]
    assert mp_case(tmp_path, "case_digest", lines) == ["ValueError", True, True, False] + ["ValueError"] * 3


# ---- certificates ----


def oid_tlv(dotted):
    a = [int(x) for x in dotted.split(".")]
    body = bytearray([a[0] * 40 + a[1]])
    for v in a[2:]:
        enc = [v & 0x7F]
        while v > 0x7F:
            v >>= 7
            enc.append(0x80 | (v & 0x7F))
        body += bytes(reversed(enc))
    return bytes([6, len(body)]) + bytes(body)


def test_pre_encoded_oids_are_the_named_ones():
    # der.py and exts.py compare OIDs as pre-encoded TLV bytes: each is the encoding of the OID its comment names.
    certs = os.path.join(ROOT, "firmware", "station", "certs")
    seen = 0
    for f in ("der.py", "exts.py"):
        for lit, dotted in re.findall(r'= (b"[^"]+")\s+# ([0-9.]+)', open(os.path.join(certs, f)).read()):
            assert ast.literal_eval(lit) == oid_tlv(dotted), (f, dotted)
            seen += 1
    assert seen == 13


def _t(y, m=1, d=1):
    return datetime.datetime(y, m, d, tzinfo=UTC)


def name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


KU_CA = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
KU_LEAF = x509.KeyUsage(True, False, False, False, True, False, False, False, False)


def make_cert(subject, key, issuer_name, signer, serial, ca=None, ku=None, san=None, nb=None, na=None,
              algorithm=None, pad=None, extra=()):
    """A certificate (valid 2025..2035 unless nb / na); ca: None (no basicConstraints), False, True or a
    pathLenConstraint (int)."""
    b = x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
    b = b.serial_number(serial).not_valid_before(nb or _t(2025)).not_valid_after(na or _t(2035))
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca is not False, ca if type(ca) is int else None), critical=True)
    if ku is not None:
        b = b.add_extension(ku, critical=True)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in san]), critical=False)
    for ext, crit in extra:
        b = b.add_extension(ext, critical=crit)
    kw = {"rsa_padding": pad} if pad else {}
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        kw["ecdsa_deterministic"] = True
    return b.sign(signer, algorithm or hashes.SHA256(), **kw)


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


@functools.cache
def pki():
    """Root CA (RSA-3072, PKCS#1 v1.5 self-signature) -> sub-CA (P-256, signed with RSA-PSS) -> leaf (P-256,
    ECDSA, keyUsage and a SAN dNSName), and variations on them."""
    mgf = padding.MGF1(hashes.SHA256())
    rk, sk, lk = rsa_key(3072), ec_key("sub"), ec_key("leaf")
    rn, sn = name("Test Root CA", "Test PKI"), name("Test Sub-CA", "Test PKI")
    ln = name("CS-0001", "Example Charging Ltd.")
    c = {}
    c["root"] = make_cert(rn, rk, rn, rk, 1, ca=True, ku=KU_CA)
    c["sub"] = make_cert(sn, sk, rn, rk, 0x1000, ca=0, ku=KU_CA, pad=padding.PSS(mgf, 32))
    c["leaf"] = make_cert(ln, lk, sn, sk, 0x00ABCDEF12345678, ca=False, ku=KU_LEAF, san=["cs1.example.com"])
    c["expired"] = make_cert(ln, lk, sn, sk, 2, ku=KU_LEAF, nb=_t(2025), na=_t(2026, 5, 31))
    c["future"] = make_cert(ln, lk, sn, sk, 3, ku=KU_LEAF, nb=_t(2026, 6, 2))
    c["now_nb"] = make_cert(ln, lk, sn, sk, 4, nb=_t(2026, 6, 1), na=_t(2026, 6, 1))  # valid for exactly NOW
    # A sub-CA that is not a CA (cA false / no basicConstraints / no keyCertSign) signing a leaf.
    nk = ec_key("noca")
    for tag, kw in (("noca", {"ca": False}), ("nobc", {}), ("noku", {"ca": True, "ku": KU_LEAF})):
        nn = name("Not a CA " + tag)
        c[tag] = make_cert(nn, nk, rn, rk, 10, pad=padding.PSS(mgf, padding.PSS.MAX_LENGTH), **kw)
        c[tag + "_leaf"] = make_cert(ln, lk, nn, nk, 11)
    # pathLenConstraint 0 on "sub": a CA below it may not issue.
    c["sub2"] = make_cert(name("Sub-Sub-CA"), nk, sn, sk, 12, ca=True)
    c["sub2_leaf"] = make_cert(ln, lk, name("Sub-Sub-CA"), nk, 13)
    # Another root: other name / same name, other key.
    ok = ec_key("other")
    c["other"] = make_cert(name("Other Root"), ok, name("Other Root"), ok, 20, ca=True)
    c["twin"] = make_cert(rn, ok, rn, ok, 21, ca=True)
    # A leaf with an unknown critical extension; one signed with ECDSA-SHA384; a 2-certificate RSA-2048 chain
    # with PKCS#1 v1.5 (leaf) under an EC root (ECDSA) with the RSA key as the sub-CA.
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    c["crit"] = make_cert(ln, lk, sn, sk, 30, extra=[(odd, True)])
    c["noncrit"] = make_cert(ln, lk, sn, sk, 31, extra=[(odd, False)])
    c["sha384"] = make_cert(ln, lk, sn, sk, 32, algorithm=hashes.SHA384())
    ek, r2 = ec_key("root2"), rsa_key(2048)
    c["ecroot"] = make_cert(name("EC Root"), ek, name("EC Root"), ek, 40, ca=1)
    c["rsasub"] = make_cert(name("RSA Sub"), r2, name("EC Root"), ek, 41, ca=True, ku=KU_CA)
    c["rsaleaf"] = make_cert(ln, lk, name("RSA Sub"), r2, 42, ku=KU_LEAF, san=["a.example", "b.example"])
    c["rsaleaf_pss"] = make_cert(ln, lk, name("RSA Sub"), r2, 43, pad=padding.PSS(mgf, padding.PSS.MAX_LENGTH))
    # Expired root (anchor) and a UTF-8 subject.
    c["oldroot"] = make_cert(rn, rk, rn, rk, 50, ca=True, na=_t(2026))
    c["utf8"] = make_cert(name("Ladesäule 7", "Müller GmbH"), lk, sn, sk, 51)
    c["serial0"] = make_cert(ln, lk, sn, sk, 0x80)  # serial with a 00 sign octet in front
    return c


def _ku_mask(c):
    try:
        ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    m = 0
    for i, n in enumerate(names):
        try:
            if getattr(ku, n):
                m |= 1 << i
        except ValueError:  # encipher_only / decipher_only without keyAgreement
            pass
    return m


def _issuer_of(c, certs):
    for i in certs.values():
        if i.subject == c.issuer:
            try:
                c.verify_directly_issued_by(i)
                return i
            except Exception:  # a twin name with another key
                continue
    raise AssertionError(c.subject)


def test_parse_fields_names_and_hash_data_match_cryptography(tmp_path):
    certs = pki()
    names = list(certs)
    pairs = [(certs[k], _issuer_of(certs[k], certs)) for k in names]
    got = mp_case(tmp_path, "case_parse", [["c", der(c), der(i)] for c, i in pairs])
    assert len(got) == len(pairs)
    for k, (c, i), g in zip(names, pairs, got, strict=True):
        body = der(c)
        assert g["der"] == sha(body).hex()
        assert g["tbs"] == sha(c.tbs_certificate_bytes).hex(), k
        assert int(g["serial"], 16) == c.serial_number and len(g["serial"]) % 2 == 0
        assert g["issuer"] == sha(c.issuer.public_bytes()).hex()
        assert g["subject"] == sha(c.subject.public_bytes()).hex()
        assert g["nb"] == c.not_valid_before_utc.strftime("%Y%m%d%H%M%S")
        assert g["na"] == c.not_valid_after_utc.strftime("%Y%m%d%H%M%S")
        assert g["spki"] == sha(spki_of(c)).hex()
        pub = c.public_key()
        if isinstance(pub, ec.EllipticCurvePublicKey):
            raw = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        else:
            raw = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        assert g["key"] == sha(raw).hex()
        assert g["alg"] == oid_tlv(c.signature_algorithm_oid.dotted_string).hex()
        assert g["sig"] == sha(c.signature).hex()
        assert body.endswith(bytes.fromhex(g["alg"] + g["params"]) + der_bits(c.signature))
        try:
            bc = c.extensions.get_extension_for_class(x509.BasicConstraints).value
            assert (g["ca"], g["path_len"]) == (bc.ca, bc.path_length)
        except x509.ExtensionNotFound:
            assert (g["ca"], g["path_len"]) == (False, None)
        assert g["key_usage"] == _ku_mask(c), k
        try:
            dns = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName)
        except x509.ExtensionNotFound:
            dns = []
        assert g["san_dns"] == bool(dns)
        assert g["crit"] == (k == "crit")
        assert g["cn"] == c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        o = c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        assert g["o"] == (o[0].value if o else None)
        assert g["issuer_cn"] == c.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        # OCPP CertificateHashDataType = OCSP CertID (SHA-256)
        req = ocsp.OCSPRequestBuilder().add_certificate(c, i, hashes.SHA256()).build()
        assert g["hash"] == {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(),
            "serialNumber": "%x" % req.serial_number,
        }, k
        assert g["signed"] == (True if k != "sha384" else "ValueError"), k
    by = dict(zip(names, got, strict=True))
    assert by["leaf"]["hash"]["serialNumber"] == "abcdef12345678"
    assert by["serial0"]["serial"] == "0080" and by["serial0"]["hash"]["serialNumber"] == "80"
    assert by["leaf"]["key_usage"] == 0b10001 and by["sub"]["key_usage"] == 0b1100000
    assert by["leaf"]["san_dns"] and by["rsaleaf"]["san_dns"] and not by["sub"]["san_dns"]
    assert (by["sub"]["ca"], by["sub"]["path_len"]) == (True, 0)
    assert (by["utf8"]["cn"], by["utf8"]["o"]) == ("Ladesäule 7", "Müller GmbH")
    assert by["sub"]["params"] != "" and by["leaf"]["params"] == ""  # PSS parameters / ECDSA none


def spki_of(c):
    return c.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def der_bits(b):
    body = b"\x00" + b
    n = len(body)
    head = bytes([3, n]) if n < 0x80 else bytes([3, 0x81, n]) if n < 0x100 else bytes([3, 0x82, n >> 8, n & 0xFF])
    return head + body


def _tamper(body, old, new):
    assert body.count(old) == 1
    return body.replace(old, new)


CHAINS = [
    # (anchors, chain, now, expected)
    ("root", "leaf,sub", NOW, None),
    ("root", "leaf,sub,root", NOW, None),  # ends in a copy of the anchor
    ("root", "sub", NOW, None),
    ("root", "root", NOW, None),  # the anchor itself
    ("other,root", "leaf,sub", NOW, None),
    ("root", "now_nb,sub", NOW, None),  # notBefore = notAfter = now: inclusive
    ("root", "expired,sub", NOW, "Expired"),
    ("root", "expired,sub", "-", None),  # no clock: no date checks
    ("root", "future,sub", NOW, "NotYetValid"),
    ("root", "leaf,sub", "20351231000000", "Expired"),
    ("root", "leaf,sub", "20241231235959", "NotYetValid"),
    ("root", "noca_leaf,noca", NOW, "NotCA"),
    ("root", "nobc_leaf,nobc", NOW, "NotCA"),
    ("root", "noku_leaf,noku", NOW, "NotCA"),
    ("other", "leaf,sub", NOW, "NoTrustAnchor"),
    ("", "leaf,sub", NOW, "NoTrustAnchor"),
    ("twin", "leaf,sub", NOW, "BadSignature"),  # the root's name, another key
    ("twin,root", "leaf,sub", NOW, None),  # one of two same-name anchors verifies
    ("root", "tampered,sub", NOW, "BadSignature"),
    ("root", "leaf,tampered_sub", NOW, "BadSignature"),
    ("root", "leaf,noca", NOW, "BadSignature"),  # leaf's issuer is not the next certificate
    ("root", "sub,leaf", NOW, "BadSignature"),  # wrong order
    ("root", "sub2_leaf,sub2,sub", NOW, "PathLength"),
    ("root", "sub2,sub", NOW, None),  # pathLen 0 allows issuing a CA certificate
    ("root", "crit,sub", NOW, "Unsupported"),
    ("root", "noncrit,sub", NOW, None),
    ("root", "sha384,sub", NOW, "Unsupported"),
    ("ecroot", "rsaleaf,rsasub", NOW, None),
    ("ecroot", "rsaleaf_pss,rsasub", NOW, None),
    ("ecroot", "rsaleaf,rsasub,ecroot", NOW, None),
    ("oldroot", "leaf,sub", NOW, "Expired"),  # an expired anchor is not used
    ("oldroot", "leaf,sub", "-", None),
    ("root", "leaf,sub,sub,sub,sub,sub", NOW, "BadSignature"),  # six: long enough to get checked
    ("root", "leaf,sub,sub,sub,sub,sub,root", NOW, "ChainLength"),
    ("root", "", NOW, "ChainLength"),
]


def test_chains(tmp_path):
    certs = dict(pki())
    bodies = {k: der(c) for k, c in certs.items()}
    leaf, sub = bodies["leaf"], bodies["sub"]
    bodies["tampered"] = _tamper(leaf, b"CS-0001", b"CS-0002")  # the tbs changed, the signature kept
    bodies["tampered_sub"] = _tamper(sub, b"350101000000Z", b"340101000000Z")  # its notAfter
    for k in ("tampered", "tampered_sub"):
        x509.load_der_x509_certificate(bodies[k])  # still a well-formed certificate
    lines = []
    for a, ch, now, _ in CHAINS:
        lines += [["a", bodies[x]] for x in a.split(",") if x] + [["c", bodies[x]] for x in ch.split(",") if x]
        lines.append(["t", "" if now == "-" else now])
    got = mp_case(tmp_path, "case_chain", lines)
    assert [g[0] for g in got] == [w for *_, w in CHAINS]
    assert all(g[1] for g in got)  # nothing but None before the result


def test_malformed_certificates_give_value_error_only(tmp_path):
    # Pinned-seed fuzz of a real certificate (with extensions and SAN): truncations, bit flips, byte
    # changes, inserted bytes. parse gives a Cert or ValueError; for a Cert, signed_by, attr, hash_data and
    # chain give results or ValueError, never another exception, never a hang.
    c = pki()
    body, issuer = der(c["leaf"]), der(c["sub"])
    rng = random.Random(20260601)
    muts = [b"", body[:1], body + b"\x00", body + body, body[:-1], b"\x30\x80" + body[2:]]
    muts += [body[:n] for n in range(0, len(body), 3)]
    for _ in range(250):
        b = bytearray(body)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(b))
            if rng.random() < 0.5:
                b[i] ^= 1 << rng.randrange(8)
            else:
                b[i] = rng.choice([0, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xFF, rng.randrange(256)])
        muts.append(bytes(b))
    for _ in range(40):
        i = rng.randrange(len(body))
        muts.append(body[:i] + bytes([rng.randrange(256)]) + body[i:])
    lines = [["f", issuer]] + [["m", m] for m in muts]
    got = mp_case(tmp_path, "case_fuzz", lines)
    assert len(got) == len(muts)
    ok = {True, False, "ValueError"}
    parsed = 0
    for m, g in zip(muts, got, strict=True):
        if g[0] != "Cert":
            assert g == ["ValueError"], (m.hex(), g)
            continue
        parsed += 1
        assert g[1] in ok, (m.hex(), g)
        assert g[2] == "ValueError" or set(g[2]) <= {"str", "NoneType"}, (m.hex(), g)
        assert g[3] == ["hashAlgorithm", "issuerKeyHash", "issuerNameHash", "serialNumber"], (m.hex(), g)
        assert g[4] in ("Expired", "NotYetValid", "BadSignature", "NoTrustAnchor", "Unsupported"), (m.hex(), g)
        assert g[1] is not True, m.hex()  # a changed certificate never verifies
    assert 0 < parsed < len(muts) // 2
    assert got[0] == ["ValueError"]
