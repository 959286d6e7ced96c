# X.509 v3 extensions for x509.parse: basicConstraints, keyUsage and subjectAltName are read; any other
# critical one marks the certificate (Cert.crit), as RFC 5280 4.2 makes a verifier refuse what it cannot
# process; non-critical ones are skipped. Bounds-checked like x509.py: ValueError for anything malformed.
from micropython import const

from station.certs.x509 import expect, minimal, read

_KU_BYTES = const(3)  # KeyUsage: unused-bits octet + 9 named bits
# Extension OIDs (pre-encoded TLVs, as in der.py)
_BC = b"\x06\x03\x55\x1d\x13"  # 2.5.29.19 basicConstraints
_KU = b"\x06\x03\x55\x1d\x0f"  # 2.5.29.15 keyUsage
_SAN = b"\x06\x03\x55\x1d\x11"  # 2.5.29.17 subjectAltName


def _bool(buf, s, e):
    if e - s != 1 or buf[s] not in (0, 0xFF):  # 0: DER omits a FALSE DEFAULT, but old CAs write it
        raise ValueError("bad BOOLEAN")
    return buf[s] == 0xFF


def read_into(c, der, s, end):
    """Set c.ca, path_len, key_usage, san_dns, crit from the [3] extensions body der[s:end]."""
    s, e = expect(der, s, end, 0x30)
    if e != end or s == e:
        raise ValueError("bad extensions")
    seen = []
    while s < e:
        a, q = expect(der, s, e, 0x30)  # Extension
        o, p = expect(der, a, q, 0x06)
        oid = der[a:p]
        if oid in seen:
            raise ValueError("extension twice")  # RFC 5280 4.2
        seen.append(oid)
        t, vs, ve = read(der, p, q)
        crit = False
        if t == 0x01:
            crit = _bool(der, vs, ve)
            t, vs, ve = read(der, ve, q)
        if t != 0x04 or ve != q:
            raise ValueError("bad extension")
        if oid == _BC:
            _bc(c, der, vs, ve)
        elif oid == _KU:
            c.key_usage = _ku(der, vs, ve)
        elif oid == _SAN:
            c.san_dns = _san(der, vs, ve)
        elif crit:
            c.crit = True
        s = q


def _bc(c, der, s, e):
    # BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
    s, q = expect(der, s, e, 0x30)
    if q != e:
        raise ValueError("bad basicConstraints")
    if s < e and der[s] == 0x01:
        t, a, s = read(der, s, e)
        c.ca = _bool(der, a, s)
    if s < e:
        a, s = expect(der, s, e, 0x02)
        if s != e or not 0 < s - a <= 2 or der[a] & 0x80:
            raise ValueError("bad pathLenConstraint")  # at most 32767: small int on any port
        minimal(der, a, s)
        c.path_len = int.from_bytes(der[a:s], "big")


def _ku(der, s, e):
    # KeyUsage BIT STRING: named bit 0 (digitalSignature) is the first octet's top bit.
    s, q = expect(der, s, e, 0x03)
    if q != e or not 0 < e - s <= _KU_BYTES or der[s] > 7 or e - s == 1 and der[s]:
        raise ValueError("bad keyUsage")
    m = 0
    for i in range((e - s - 1) * 8 - der[s]):
        if der[s + 1 + (i >> 3)] & (0x80 >> (i & 7)):
            m |= 1 << i
    return m


def _san(der, s, e):
    # GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName; dNSName is [2] IA5String.
    s, q = expect(der, s, e, 0x30)
    if q != e or s == e:
        raise ValueError("bad subjectAltName")
    dns = False
    while s < e:
        t, _, s = read(der, s, e)
        dns = dns or t == 0x82
    return dns
