# Bounds-checked reading of untrusted certificates: PEM blocks, DER TLVs, the fields CertificateSigned needs
# (cert_fields), and parse() -> Cert for chain validation (station.certs.verify). Every problem is a
# ValueError, nothing else; no length is trusted before it is checked against what encloses it. Loaded only
# when a certificate arrives. Extensions are read by exts.py, names (attr, hash_data) by names.py.
import binascii

from micropython import const

from station.certs.der import OID_EC_PUBKEY, OID_P256

_MAX_SERIAL = const(21)  # RFC 5280 4.1.2.2: at most 20 octets; one more tolerates a sign octet in front


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
    as b"YYYYMMDDHHMMSS" (UTC), which compare correctly as bytes. As strict as parse()."""
    c = parse(cert)
    return c.nb, c.na, c.spki


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


class Cert:
    """One parsed certificate (see parse). Plain attributes (MicroPython accepts __slots__ but ignores it).
    The four long fields (tbs, spki, key, sig) are kept as spans of der and sliced on each read: a chain of
    six then holds each certificate once, not twice."""

    def __init__(self, der):
        self.der = der
        self.span = [0, 0, 0, 0, 0, 0, 0, 0]  # start, end in der of tbs, spki, key, sig
        self.serial = self.issuer = self.subject = self.nb = self.na = self.alg = self.params = b""
        self.ca = False
        self.path_len = None
        self.key_usage = None
        self.san_dns = False
        self.crit = False  # a critical extension this reader does not know (verify.chain: "Unsupported")

    def _cut(self, i):
        return self.der[self.span[i] : self.span[i + 1]]

    @property
    def tbs(self):
        return self._cut(0)

    @property
    def spki(self):
        return self._cut(2)

    @property
    def key(self):
        return self._cut(4)

    @property
    def sig(self):
        return self._cut(6)

    def __repr__(self):
        return "<Cert %s>" % binascii.hexlify(self.serial).decode()


def parse(der):
    """Cert of one DER X.509 certificate, nothing after it. Versions: v3, or v1 without extensions (a v1
    certificate is never a CA here: no basicConstraints). Attributes, all bytes unless said:
      der, tbs (tbsCertificate TLV: what the signature covers), serial (INTEGER content octets), issuer,
      subject (Name TLVs), nb, na (notBefore / notAfter, b"YYYYMMDDHHMMSS" UTC), spki (SubjectPublicKeyInfo
      TLV), key (subjectPublicKey bits), alg (signatureAlgorithm OID TLV), params (its parameters TLV or
      b""), sig (signatureValue bits), ca (bool), path_len (int or None), key_usage (RFC 5280 bit mask,
      digitalSignature = 1 << 0 ... keyCertSign = 1 << 5, or None), san_dns (bool: a dNSName in
      subjectAltName), crit (bool: an unknown critical extension); span: [start, end] offsets in der of
      tbs, spki, key, sig. ValueError for anything malformed."""
    if not isinstance(der, (bytes, bytearray)):
        raise ValueError("not bytes")
    der = bytes(der)
    end = len(der)
    s, e = expect(der, 0, end, 0x30)  # Certificate
    if e != end:
        raise ValueError("trailing data")
    c = Cert(der)
    t, ts, te = read(der, s, e)
    if t != 0x30:
        raise ValueError("no tbsCertificate")
    c.span[0:2] = s, te
    a, ae = expect(der, te, e, 0x30)  # signatureAlgorithm
    algid = der[te:ae]
    o, oe = expect(der, a, ae, 0x06)
    c.alg = der[a:oe]
    c.params = der[oe:ae]
    if oe < ae and read(der, oe, ae)[2] != ae:
        raise ValueError("bad AlgorithmIdentifier")
    b, be = expect(der, ae, e, 0x03)
    if be != e:
        raise ValueError("bad Certificate")
    c.span[6:8] = _bits(der, b, be)

    t, s, p = read(der, ts, te)
    v3 = t == 0xA0  # [0] EXPLICIT version; absent: v1 (DER leaves a DEFAULT out, so an explicit v1 is bad)
    if v3:
        if der[s:p] != b"\x02\x01\x02":
            raise ValueError("unsupported version")
        t, s, p = read(der, p, te)
    if t != 0x02 or not 0 < p - s <= _MAX_SERIAL:
        raise ValueError("bad serial")
    minimal(der, s, p)
    c.serial = der[s:p]
    s, q = expect(der, p, te, 0x30)  # signature: must repeat signatureAlgorithm (RFC 5280 4.1.2.3)
    if der[p:q] != algid:
        raise ValueError("signature algorithms differ")
    s, e = expect(der, q, te, 0x30)
    c.issuer = der[q:e]
    s, p = expect(der, e, te, 0x30)  # validity
    nb = read(der, s, p)
    na = read(der, nb[2], p)
    if na[2] != p:
        raise ValueError("bad validity")
    c.nb = _time(der, nb)
    c.na = _time(der, na)
    s, e = expect(der, p, te, 0x30)
    c.subject = der[p:e]
    s, p = expect(der, e, te, 0x30)  # subjectPublicKeyInfo
    c.span[2:4] = e, p
    s = expect(der, s, p, 0x30)[1]  # its AlgorithmIdentifier: read by the verifier
    s, q = expect(der, s, p, 0x03)
    if q != p:
        raise ValueError("bad SubjectPublicKeyInfo")
    c.span[4:6] = _bits(der, s, q)
    last = 0x80
    while p < te:  # issuerUniqueID [1], subjectUniqueID [2] (skipped), extensions [3], in that order
        t, s, q = read(der, p, te)
        if not v3 or t not in (0x81, 0x82, 0xA3) or t & 3 <= last & 3:
            raise ValueError("bad tbsCertificate")
        if t == 0xA3:
            from station.certs import exts

            exts.read_into(c, der, s, q)
        last = t
        p = q
    return c


def _bits(buf, s, e):
    # Span of a BIT STRING's contents without the unused-bits octet; keys and signatures use whole octets.
    if s >= e or buf[s]:
        raise ValueError("bad BIT STRING")
    return s + 1, e


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


def attr(name, oid):
    """str value of the first attribute of type oid (a pre-encoded OID TLV, e.g. der.OID_CN) in a DER Name,
    or None; ValueError for a malformed Name or value."""
    from station.certs import names

    return names.attr(name, oid)


def hash_data(cert, issuer):
    """OCPP 2.0.1 CertificateHashDataType of cert (issuer: the Cert that signed it, itself for a root)."""
    from station.certs import names

    return names.hash_data(cert, issuer)
