# X.509 reading under MicroPython (station.certs.x509, exts, names): versions, structure, extensions,
# string types, times. Real certificates from `cryptography`: tests_host/test_verify.py.
from station.certs import der, p256
from mptest import eq, raises

HEAP = "48K"  # the largest needed 40K (4K steps, .mpy build), plus 8K: heap varies with the checkout path
TIMEOUT = 60


def test_time_of():
    from station.certs import x509

    eq(x509.time_of("2026-12-03T12:00:00Z"), b"20261203120000")
    eq(x509.time_of(b"2026-12-03T12:00:00.123456Z"), b"20261203120000")
    eq(x509.time_of("2026-12-03t12:00:00+00:00"), b"20261203120000")
    eq(x509.time_of("1999-01-31T23:59:59.5-00:00"), b"19990131235959")
    for bad in ("", "2026-12-03", "2026-12-03T12:00:00", "2026-12-03T12:00:00+01:00", "2026-12-03T12:00:00.Z",
                "2026-12-03 12:00:00Z", "2026-1a-03T12:00:00Z", "2026/12/03T12:00:00Z", "2026-12-03T12:00:00ZZ"):
        raises(ValueError, x509.time_of, bad)


def test_der_reader_is_strict_der():
    from station.certs import x509

    raises(ValueError, x509.read, b"\x04\x81\x05hello", 0)  # long form for a short length
    raises(ValueError, x509.read, b"\x04\x82\x00\x85" + bytes(0x85), 0)  # leading zero octet
    raises(ValueError, x509.read, b"\x1f\x81\x01\x00", 0)  # high tag number form
    eq(x509.read(b"\x04\x81\x80" + bytes(0x80), 0), (4, 3, 0x83))


def _tbs(version, exts=b""):
    from station.certs import csr

    alg = der.seq(der.OID_ECDSA_SHA256)
    x, y = p256.GX, p256.GY
    validity = der.seq(der.tlv(0x17, b"250101000000Z"), der.tlv(0x18, b"20991231235959Z"))
    v = der.tlv(0xA0, der.uint(version)) if version is not None else b""
    return der.seq(v, der.uint(0x1234), alg, csr.name("CA", "Org"), validity, csr.name("SN1", "Org"), csr.spki(x, y),
                   exts)


def _cert(tbs, alg=None):
    # Structurally a certificate; its signature is junk (nothing here checks it).
    return der.seq(tbs, alg or der.seq(der.OID_ECDSA_SHA256), der.bits(der.seq(der.uint(1), der.uint(2))))


def test_versions_and_structure():
    from station.certs import x509

    c = x509.parse(_cert(_tbs(None)))  # v1: allowed without extensions, never a CA
    eq((c.ca, c.path_len, c.key_usage, c.san_dns, c.crit), (False, None, None, False, False))
    eq(c.serial, b"\x12\x34")
    eq(x509.attr(c.subject, der.OID_CN), "SN1")
    eq(x509.attr(c.issuer, b"\x06\x03\x55\x04\x06"), None)  # no countryName
    c = x509.parse(_cert(_tbs(2)))  # v3 without extensions
    eq(c.nb, b"20250101000000")
    bc = der.seq(b"\x06\x03\x55\x1d\x13", b"\x01\x01\xff", der.tlv(0x04, der.seq(b"\x01\x01\xff", der.uint(3))))
    ku = der.seq(b"\x06\x03\x55\x1d\x0f", der.tlv(0x04, b"\x03\x02\x01\x06"))  # keyCertSign, cRLSign
    ext = der.tlv(0xA3, der.seq(bc, ku))
    c = x509.parse(_cert(_tbs(2, ext)))
    eq((c.ca, c.path_len, c.key_usage), (True, 3, 0x60))
    c = x509.parse(_cert(_tbs(2, b"\x81\x02\x00\x01\x82\x02\x00\x02" + ext)))  # unique IDs are skipped
    eq(c.ca, True)
    raises(ValueError, x509.parse, _cert(_tbs(None, ext)))  # v1 with extensions
    raises(ValueError, x509.parse, _cert(_tbs(0)))  # v1 written out: not DER
    raises(ValueError, x509.parse, _cert(_tbs(1)))  # v2
    raises(ValueError, x509.parse, _cert(_tbs(3)))
    raises(ValueError, x509.parse, _cert(_tbs(2, ext + ext)))  # extensions twice
    raises(ValueError, x509.parse, _cert(_tbs(2, der.tlv(0xA3, der.seq(bc, bc)))))  # one extension twice
    raises(ValueError, x509.parse, _cert(_tbs(2, b"\x82\x01\x00\x81\x01\x00")))  # unique IDs out of order
    raises(ValueError, x509.parse, _cert(_tbs(2, der.tlv(0xA3, der.seq()))))  # empty extensions
    raises(ValueError, x509.parse, _cert(_tbs(2), der.seq(der.OID_ECDSA_SHA256, b"\x05\x00")))  # algs differ
    raises(ValueError, x509.parse, _cert(_tbs(2)) + b"\x00")  # trailing
    raises(ValueError, x509.parse, "not bytes")
    raises(ValueError, x509.parse, None)
    crit = der.seq(b"\x06\x03\x55\x1d\x1e", b"\x01\x01\xff", der.tlv(0x04, der.seq()))  # nameConstraints
    eq(x509.parse(_cert(_tbs(2, der.tlv(0xA3, der.seq(crit))))).crit, True)


def test_names_decode_string_types():
    from station.certs import x509

    def name(tag, value):
        return der.seq(der.tlv(0x31, der.seq(der.OID_CN, der.tlv(tag, value))))

    eq(x509.attr(name(0x0C, "Müller".encode()), der.OID_CN), "Müller")
    eq(x509.attr(name(0x13, b"SN 1"), der.OID_CN), "SN 1")
    eq(x509.attr(name(0x16, b"a@b"), der.OID_CN), "a@b")
    eq(x509.attr(name(0x14, b"M\xfcller"), der.OID_CN), "Müller")
    eq(x509.attr(name(0x1E, b"\x00M\x00\xfc"), der.OID_CN), "Mü")
    for tag, value in ((0x0C, b"\xff"), (0x13, b"\xc3\xbc"), (0x1E, b"\x00"), (0x1E, b"\xd8\x00"), (0x04, b"x")):
        raises(ValueError, x509.attr, name(tag, value), der.OID_CN)
    two = der.seq(der.tlv(0x31, der.seq(der.OID_O, der.text("Org")) + der.seq(der.OID_CN, der.text("a"))),
                  der.tlv(0x31, der.seq(der.OID_CN, der.text("b"))))
    eq(x509.attr(two, der.OID_CN), "a")  # the first, also inside a multi-valued RDN
    raises(ValueError, x509.attr, two[:-1], der.OID_CN)
    raises(ValueError, x509.attr, der.seq(der.tlv(0x31, b"")), der.OID_CN)
