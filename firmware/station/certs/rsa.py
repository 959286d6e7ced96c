# RSA signature verification with SHA-256 (RFC 8017): RSASSA-PSS with MGF1-SHA256 and PKCS#1 v1.5, for
# certificate chains (station.certs.verify). Public-key operations only: nothing secret, so timing is no
# concern. Not a generator: with e = 65537 the pow is 17 modular multiplications (16 squarings and one
# multiply), a few ms even for a 4096-bit modulus, short enough to hold the event loop for.
import hashlib

from micropython import const

from station.certs.der import OID_RSA
from station.certs.x509 import expect, minimal, read

_MIN_BITS = const(2048)  # OCPP 2.0.1 A00.FR.503: RSA keys of at least 2048 bits
_MAX_BITS = const(4096)  # bounds the time and heap a CSMS can make the station spend on one key
_MAX_E = const(32)  # octets: FIPS 186-4 wants e < 2^256; larger only makes the pow slow
_HLEN = const(32)  # SHA-256
# DigestInfo of SHA-256 in front of the hash (RFC 8017 9.2 note 1): the one encoding accepted
_DI = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def _nbits(n):
    # MicroPython's int has no bit_length(). A binary search over shifts: no string of the number's
    # hex digits (768 characters for 3072 bits), each shift's result short-lived.
    lo, hi = 0, 2 * _MAX_BITS
    while lo < hi:
        mid = (lo + hi) >> 1
        if n >> mid:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _uint(b, s, e):
    # A positive DER INTEGER's value.
    minimal(b, s, e)
    if s == e or b[s] & 0x80:
        raise ValueError("bad RSA key")
    return int.from_bytes(b[s:e], "big")


def key(b):
    """(n, e) of an RSA public key: an rsaEncryption SubjectPublicKeyInfo, or its key bits alone
    (RSAPublicKey). ValueError("unsupported key: ...") outside 2048..4096 bits, ValueError when
    malformed."""
    s, e = expect(b, 0, len(b), 0x30)
    if e != len(b):
        raise ValueError("bad RSA key")
    t, a, q = read(b, s, e)
    if t == 0x30:  # SubjectPublicKeyInfo: AlgorithmIdentifier first
        o, p = expect(b, a, q, 0x06)
        if b[a:p] != OID_RSA or b[p:q] not in (b"", b"\x05\x00"):
            raise ValueError("unsupported key")
        s, q = expect(b, q, e, 0x03)
        if q != e or s == q or b[s]:
            raise ValueError("bad RSA key")
        b = b[s + 1 : q]
        s, e = expect(b, 0, len(b), 0x30)
        if e != len(b):
            raise ValueError("bad RSA key")
    s, q = expect(b, s, e, 0x02)
    a, p = expect(b, q, e, 0x02)
    if p != e or p - a > _MAX_E:
        raise ValueError("bad RSA key")
    n = _uint(b, s, q)
    x = _uint(b, a, p)
    bits = _nbits(n)
    if bits < _MIN_BITS:
        raise ValueError("unsupported key: RSA under 2048 bits")
    if bits > _MAX_BITS:
        raise ValueError("unsupported key: RSA over 4096 bits")
    if not n & 1 or x < 3 or not x & 1 or x >= n:
        raise ValueError("bad RSA key")
    return n, x


def verify(n, e, h, sig, pss=None):
    """True when sig (bytes) is an RSA signature with key (n, e) over the SHA-256 digest h, else False.
    pss: True RSASSA-PSS (MGF1-SHA256, any salt length: recovered from the signature), False PKCS#1 v1.5,
    None either (PSS tried first)."""
    bits = _nbits(n)
    k = (bits + 7) >> 3
    if len(sig) != k or len(h) != _HLEN:  # RFC 8017 8.1.2/8.2.2 step 1: exactly the modulus' length
        return False
    m = int.from_bytes(sig, "big")
    if m >= n:
        return False
    m = pow(m, e, n)
    if pss is not False and _pss(m, bits - 1, h):
        return True
    return pss is not True and m.to_bytes(k, "big") == _v15(k, h)


def _v15(k, h):
    # EMSA-PKCS1-v1_5 (RFC 8017 9.2): the whole expected block, compared at once. k >= 256 here, so the
    # padding is well over its minimum of 8 octets.
    return b"".join((b"\x00\x01", b"\xff" * (k - 3 - len(_DI) - _HLEN), b"\x00", _DI, h))


def _mgf1(seed, n):
    out = []
    for c in range((n + _HLEN - 1) // _HLEN):
        out.append(hashlib.sha256(seed + c.to_bytes(4, "big")).digest())
    return b"".join(out)[:n]


def _pss(m, em_bits, h):
    # EMSA-PSS-VERIFY (RFC 8017 9.1.2) with emBits = modBits - 1: for a modulus of 8k+1 bits the encoded
    # message is one octet shorter than the modulus.
    em_len = (em_bits + 7) >> 3
    if m >> em_bits:  # step 6: the bits above emBits must be zero
        return False
    em = m.to_bytes(em_len, "big")
    db_len = em_len - _HLEN - 1
    if em[-1] != 0xBC:
        return False
    hh = em[db_len:-1]
    db = bytearray(_mgf1(hh, db_len))
    for i in range(db_len):  # in place: a few hundred small-int steps, no big ints of the block's size
        db[i] ^= em[i]
    db[0] &= 0xFF >> (8 * em_len - em_bits)  # step 9: clear the bits above emBits
    # step 10, salt recovered: DB = zeros || 0x01 || salt
    i = 0
    while i < db_len and not db[i]:
        i += 1
    if i == db_len or db[i] != 1:
        return False
    return hashlib.sha256(bytes(8) + h + db[i + 1 :]).digest() == hh
