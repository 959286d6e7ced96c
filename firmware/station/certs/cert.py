# The full X.509 certificate reader for chain validation (station.certs.verify): parse(der) -> Cert, every
# field a verifier needs, bounds-checked like x509.py (ValueError for anything malformed). Reached as
# x509.parse / x509.Cert; extensions are read by exts.py.
import binascii

from micropython import const

from station.certs.x509 import _time, expect, minimal, read  # _time: the validity reader cert_fields uses too

_MAX_SERIAL = const(21)  # RFC 5280 4.1.2.2: at most 20 octets; one more tolerates a sign octet in front


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
