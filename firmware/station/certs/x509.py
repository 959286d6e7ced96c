# Bounds-checked reading of untrusted certificates: PEM blocks, DER TLVs, the fields CertificateSigned needs
# (cert_fields), times. Every problem is a ValueError, nothing else; no length is trusted before it is
# checked against what encloses it. Loaded only when a certificate arrives. The full reader for chain
# validation, parse() -> Cert, is cert.py (extensions: exts.py, Names and hash data: names.py); its names
# are reachable from here and load on first use, so CertificateSigned's lean path stays small.
import binascii

from station.certs.der import OID_EC_PUBKEY, OID_P256


def unpem(text, label="CERTIFICATE"):
    """DER bytes of every `label` block in a PEM string, in order; ValueError when there is none or one
    is damaged."""
    head = "-----BEGIN %s-----" % label
    tail = "-----END %s-----" % label
    out = []
    i = text.find(head)
    while i >= 0:
        j = text.find(tail, i)
        if j < 0:
            raise ValueError("unterminated PEM block")
        body = "".join(text[i + len(head) : j].split())
        try:
            out.append(binascii.a2b_base64(body))
        except Exception:  # binascii.Error on CPython, ValueError on MicroPython
            raise ValueError("bad base64") from None
        i = text.find(head, j)
    if not out:
        raise ValueError("no %s in PEM" % label)
    return out


def read(buf, pos, end=None):
    """One TLV at buf[pos:end]: (tag, body_start, body_end). Single-byte tags only (all X.509 needs)."""
    if end is None:
        end = len(buf)
    if pos + 2 > end:
        raise ValueError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("long tag")  # high tag numbers: nothing in a certificate uses them
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or pos + k > end:
            raise ValueError("bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        if n < 0x80 or n >> (8 * k - 8) == 0:
            raise ValueError("bad length")  # not the shortest form: not DER
        pos += k
    if pos + n > end:
        raise ValueError("truncated")
    return tag, pos, pos + n


def expect(buf, pos, end, tag):
    t, s, e = read(buf, pos, end)
    if t != tag:
        raise ValueError("tag %02x, want %02x" % (t, tag))
    return s, e


def cert_fields(cert):
    """(notBefore, notAfter, SubjectPublicKeyInfo TLV bytes) of an X.509 certificate (DER); the times
    as b"YYYYMMDDHHMMSS" (UTC), which compare correctly as bytes. A lean walk to what CertificateSigned
    needs, without loading the full reader (parse checks everything, for chain validation)."""
    s, e = expect(cert, 0, len(cert), 0x30)  # Certificate
    s, e = expect(cert, s, e, 0x30)  # tbsCertificate
    t, _, n = read(cert, s, e)
    if t == 0xA0:  # [0] EXPLICIT version
        s = n
    for _ in range(3):  # serialNumber, signature, issuer
        s = read(cert, s, e)[2]
    v, s = expect(cert, s, e, 0x30)  # validity
    s = read(cert, s, e)[2]  # subject
    t, _, n = read(cert, s, e)
    if t != 0x30:
        raise ValueError("no SubjectPublicKeyInfo")
    nb = read(cert, v, s)
    return _time(cert, nb), _time(cert, read(cert, nb[2], s)), cert[s:n]


def _time(buf, tlv):
    # UTCTime YYMMDDHHMMSSZ (YY < 50: 20YY, RFC 5280) or GeneralizedTime YYYYMMDDHHMMSSZ.
    tag, s, e = tlv
    t = bytes(buf[s:e])
    if tag == 0x17 and len(t) == 13:
        t = (b"20" if t < b"50" else b"19") + t
    elif tag != 0x18:
        raise ValueError("bad time")
    if len(t) != 15 or t[14] != 0x5A or not t[:14].isdigit():  # 0x5A: "Z"
        raise ValueError("bad time")
    return t[:14]


def ec_point(spki):
    """(x, y or None, parity or None) of a P-256 SubjectPublicKeyInfo; ValueError for any other key.
    A compressed point gives y None and the parity of y."""
    s, e = expect(spki, 0, len(spki), 0x30)
    a, ae = expect(spki, s, e, 0x30)  # AlgorithmIdentifier
    if spki[a:ae] != OID_EC_PUBKEY + OID_P256:
        raise ValueError("not an EC P-256 key")
    b, be = expect(spki, ae, e, 0x03)
    pt = spki[b:be]
    if len(pt) == 66 and pt[:2] == b"\x00\x04":
        return int.from_bytes(pt[2:34], "big"), int.from_bytes(pt[34:], "big"), None
    if len(pt) == 34 and pt[0] == 0 and pt[1] in (2, 3):
        return int.from_bytes(pt[2:], "big"), None, pt[1] & 1
    raise ValueError("bad EC point")


def minimal(buf, s, e):
    """ValueError unless buf[s:e] is a DER INTEGER's content: the shortest two's complement form."""
    if e - s > 1 and (buf[s] == 0 and buf[s + 1] < 0x80 or buf[s] == 0xFF and buf[s + 1] >= 0x80):
        raise ValueError("bad INTEGER")


def time_of(ts):
    """The station's clock string, RFC 3339 in UTC ("2026-12-03T12:00:00Z", fractional seconds allowed,
    "+00:00" too) -> b"YYYYMMDDHHMMSS", comparable as bytes with a Cert's nb / na. ValueError otherwise."""
    if isinstance(ts, str):
        ts = ts.encode()
    if len(ts) < 20 or ts[4:5] + ts[7:8] + ts[10:11] + ts[13:14] + ts[16:17] not in (b"--T::", b"--t::"):
        raise ValueError("bad time")
    t = ts[:4] + ts[5:7] + ts[8:10] + ts[11:13] + ts[14:16] + ts[17:19]
    z = ts[19:]
    if z[:1] == b".":
        i = 1
        while i < len(z) and z[i : i + 1].isdigit():
            i += 1
        if i == 1:
            raise ValueError("bad time")
        z = z[i:]
    if not t.isdigit() or z not in (b"Z", b"z", b"+00:00", b"-00:00"):
        raise ValueError("bad time")  # another offset would need date arithmetic; the station keeps UTC
    return t


def parse(der):
    """Cert of one DER X.509 certificate (station.certs.cert.parse, loaded on first use)."""
    from station.certs import cert

    return cert.parse(der)


def __getattr__(name):
    # x509.Cert is the class in cert.py, loaded only when asked for (PEP 562; MicroPython has it at its
    # core feature level): CertificateSigned's lean path never loads the full reader.
    if name == "Cert":
        from station.certs.cert import Cert

        return Cert
    raise AttributeError(name)


def attr(name, oid):
    """str value of the first attribute of type oid (a pre-encoded OID TLV, e.g. der.OID_CN) in a DER Name,
    or None; ValueError for a malformed Name or value."""
    from station.certs import names

    return names.attr(name, oid)


def hash_data(cert, issuer):
    """OCPP 2.0.1 CertificateHashDataType of cert (issuer: the Cert that signed it, itself for a root)."""
    from station.certs import names

    return names.hash_data(cert, issuer)
