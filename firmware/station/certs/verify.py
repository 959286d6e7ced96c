# Signature checks for certificates and signed data: the one module callers use (over ecdsa, rsa, x509).
# SHA-256 only: ECDSA P-256 (ecdsa-with-SHA256) and RSA 2048..4096 (sha256WithRSAEncryption, RSASSA-PSS
# with SHA-256 and MGF1-SHA256). MicroPython's hashlib on the ESP32 has no SHA-384 or SHA-512, so
# ecdsa-with-SHA384, sha384WithRSAEncryption, P-384 keys ... are "unsupported" (ValueError).
# Everything here is a generator that yields None while it works (an ECDSA check yields once per scalar
# bit, so a caller can let the event loop run); the last value yielded is the result.
import hashlib

from micropython import const

from station.certs import x509
from station.certs.der import OID_ECDSA_SHA256, OID_EC_PUBKEY, OID_MGF1, OID_P256, OID_RSA, OID_RSA_PSS
from station.certs.der import OID_RSA_SHA256, OID_SHA256

_MAX_CHAIN = const(6)
_KEY_CERT_SIGN = const(32)  # keyUsage bit 5


def digest(spki, h, sig):
    """Generator: True when sig is a signature over the SHA-256 digest h by the key in the DER
    SubjectPublicKeyInfo spki, else False: an EC P-256 key takes a DER ECDSA-Sig-Value, an RSA key a PSS
    or PKCS#1 v1.5 signature. A malformed or out-of-range signature, an EC point off the curve: False.
    ValueError("unsupported key") for any other key type or curve (and RSA outside 2048..4096 bits),
    ValueError for a malformed spki."""
    return _check(spki, h, sig, None)


def _check(spki, h, sig, kind):
    # kind: what the signature algorithm says ("ec", "pss", "v15") or None (any that fits the key).
    s, e = x509.expect(spki, 0, len(spki), 0x30)
    if e != len(spki):
        raise ValueError("bad SubjectPublicKeyInfo")
    a, q = x509.expect(spki, s, e, 0x30)
    o, p = x509.expect(spki, a, q, 0x06)
    oid = spki[a:p]
    if oid == OID_EC_PUBKEY:
        if spki[p:q] != OID_P256:
            raise ValueError("unsupported key")
        x, y, par = x509.ec_point(spki)
        if kind not in (None, "ec"):
            yield False  # an RSA algorithm over an EC key: no signature fits
            return
        from station.certs import ecdsa

        try:
            if y is None:
                y = ecdsa.decompress(x, par)
            r, s = ecdsa.der_sig(sig)
        except ValueError:  # no such point, or a broken signature: it does not verify
            yield False
            return
        yield from ecdsa.verify(x, y, h, r, s)
    elif oid == OID_RSA:
        from station.certs import rsa

        n, ex = rsa.key(spki)
        yield kind != "ec" and rsa.verify(n, ex, h, sig, None if kind is None else kind == "pss")
    else:
        raise ValueError("unsupported key")


def _alg(oid, params):
    # The signature algorithm of a certificate -> kind for _check; ValueError for anything else.
    if oid == OID_ECDSA_SHA256 and not params:  # RFC 5758 3.2: parameters absent
        return "ec"
    if oid == OID_RSA_SHA256 and params in (b"", b"\x05\x00"):
        return "v15"
    if oid == OID_RSA_PSS and params:
        _pss_params(params)
        return "pss"
    raise ValueError("unsupported algorithm")


def _sha256_alg(b, s, e):
    # AlgorithmIdentifier TLV filling b[s:e] that names SHA-256 (parameters NULL or absent, RFC 4055).
    a, q = x509.expect(b, s, e, 0x30)
    o, p = x509.expect(b, a, q, 0x06)
    if q != e or b[a:p] != OID_SHA256 or b[p:q] not in (b"", b"\x05\x00"):
        raise ValueError("unsupported algorithm")


def _pss_params(b):
    # RSASSA-PSS-params (RFC 4055 3.1): hashAlgorithm [0] and maskGenAlgorithm [1] must be there (their
    # defaults are SHA-1) and name SHA-256 / MGF1-SHA256; saltLength [2] is not needed (the verifier
    # recovers the salt); trailerField [3] must be 1.
    s, e = x509.expect(b, 0, len(b), 0x30)
    if e != len(b):
        raise ValueError("unsupported algorithm")
    got = [None, None, None, None]
    last = -1
    while s < e:
        t, a, q = x509.read(b, s, e)
        i = t - 0xA0
        if not last < i <= 3:
            raise ValueError("unsupported algorithm")
        got[i] = (a, q)
        last = i
        s = q
    if got[0] is None or got[1] is None:
        raise ValueError("unsupported algorithm")
    _sha256_alg(b, got[0][0], got[0][1])
    a, q = x509.expect(b, got[1][0], got[1][1], 0x30)
    o, p = x509.expect(b, a, q, 0x06)
    if q != got[1][1] or b[a:p] != OID_MGF1:
        raise ValueError("unsupported algorithm")
    _sha256_alg(b, p, q)
    for i, v in ((2, None), (3, b"\x02\x01\x01")):
        if got[i] is not None:
            a, q = x509.expect(b, got[i][0], got[i][1], 0x02)
            if q != got[i][1] or v is not None and b[got[i][0] : q] != v:
                raise ValueError("unsupported algorithm")


def signed_by(cert, issuer):
    """Generator: True when Cert cert is signed by Cert issuer (cert.issuer equals issuer.subject and the
    signature over cert.tbs verifies with issuer's key), else False. ValueError("unsupported algorithm")
    for a signature algorithm other than ecdsa-with-SHA256, sha256WithRSAEncryption, RSASSA-PSS with
    SHA-256/MGF1-SHA256; ValueError("unsupported key") as digest()."""
    kind = _alg(cert.alg, cert.params)
    if cert.issuer != issuer.subject:
        yield False
        return
    s = cert.span  # the tbs hashed where it lies in der: no copy of it
    yield from _check(issuer.spki, hashlib.sha256(memoryview(cert.der)[s[0] : s[1]]).digest(), cert.sig, kind)


def _dates(c, now):
    if now is not None:
        if now < c.nb:
            return "NotYetValid"
        if now > c.na:
            return "Expired"
    return None


def _issuer(up, below):
    # May up issue a certificate with `below` non-self-issued intermediates under it (RFC 5280 6.1.4)?
    if not up.ca or up.key_usage is not None and not up.key_usage & _KEY_CERT_SIGN:
        return "NotCA"
    if up.path_len is not None and below > up.path_len:
        return "PathLength"
    return None


def _link(c, up, below, now):
    # Generator: None while working, then the reason c cannot hang under up, or "" when it can. Names
    # first: a chain out of order is a BadSignature, not a NotCA of whatever follows.
    r = "BadSignature" if c.issuer != up.subject else _dates(up, now) or _issuer(up, below)
    if r:
        yield r
        return
    ok = False
    try:
        for ok in signed_by(c, up):
            if ok is None:
                yield None
    except ValueError as e:
        yield "Unsupported" if str(e).startswith("unsupported") else "BadSignature"
        return
    yield "" if ok else "BadSignature"


def chain(certs, anchors, now):
    """Generator: validate certs (list of Cert, leaf first, each signed by the next) up to one of anchors
    (list of Cert: the installed roots). The last value yielded is None when the chain holds, else a
    reason: "Expired", "NotYetValid" (a certificate or the anchor used, when now, b"YYYYMMDDHHMMSS", is
    not None), "NotCA" (an issuer without cA, or with keyUsage lacking keyCertSign), "PathLength",
    "BadSignature" (also an issuer name that does not match), "NoTrustAnchor" (no anchor has the last
    certificate's issuer as subject), "Unsupported" (algorithm, key, or an unknown critical extension),
    "ChainLength" (none, or over 6 certificates).
    A certificate that is itself one of the anchors (byte for byte) ends the chain there, trusted as it
    is: a chain may end in a copy of the root. The leaf's keyUsage and names are the caller's to check."""
    if not 0 < len(certs) <= _MAX_CHAIN:
        yield "ChainLength"
        return
    below = 0  # non-self-issued intermediates passed so far, for pathLenConstraint
    for i in range(len(certs)):
        c = certs[i]
        if any(c.der == a.der for a in anchors):
            break
        r = _dates(c, now) or ("Unsupported" if c.crit else None)
        if r:
            yield r
            return
        if i > 0 and c.issuer != c.subject:
            below += 1
        ups = [certs[i + 1]] if i + 1 < len(certs) else [a for a in anchors if a.subject == c.issuer]
        r = "NoTrustAnchor"
        for up in ups:  # several anchors may share a name (a renewed root): any one that verifies will do
            for r in _link(c, up, below, now):
                if r is None:
                    yield None
            if not r:
                break
        if r:
            yield r
            return
        if i + 1 == len(certs):
            break  # signed by an anchor
    yield None
