# NIST P-256 (secp256r1) arithmetic and ECDSA-SHA256 signing on plain Python ints, small enough for an
# ESP32 without PSRAM. Signing needs only multiples of the base point G (key generation and the
# signature's R), so the ladder adds the affine G with a mixed Jacobian addition: no per-step inversions.
# Verification is ecdsa.py, reachable as p256.verify, p256.decompress, p256.der_sig.
#
# Not constant-time: double-and-add leaks the number of set bits, and the interpreter's big ints leak
# more. Acceptable here: each key signs exactly one CSR, with an RFC 6979 nonce, on a device the
# attacker cannot time closely; it is not a general-purpose signer.
#
# MicroPython note: pow(x, -1, m) silently returns 0 there (1.29), so inverses use Fermat, pow(x, m-2, m).
import hashlib
import os

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def inv(x, m):
    return pow(x, m - 2, m)


def on_curve(x, y):
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x + 3 * x - B) % P == 0


def _dbl(X, Y, Z):
    # Jacobian doubling for a = -3 (dbl-2001-b).
    if not Z:
        return X, Y, Z
    d = Z * Z % P
    g = Y * Y % P
    be = X * g % P
    al = 3 * (X - d) * (X + d) % P
    X3 = (al * al - 8 * be) % P
    Z3 = ((Y + Z) * (Y + Z) - g - d) % P
    return X3, (al * (4 * be - X3) - 8 * g * g) % P, Z3


def _madd(X, Y, Z, x2, y2):
    # Jacobian + affine point (Z2 = 1).
    if not Z:
        return x2, y2, 1
    zz = Z * Z % P
    h = (x2 * zz - X) % P
    r = (y2 * zz * Z - Y) % P
    if not h:
        return _dbl(x2, y2, 1) if not r else (1, 1, 0)
    hh = h * h % P
    hhh = hh * h % P
    v = X * hh % P
    X3 = (r * r - hhh - 2 * v) % P
    return X3, (r * (v - X3) - Y * hhh) % P, Z * h % P


def mul_g(k):
    """Generator: k*G as affine (x, y), yielding None after every bit so callers can pause; the last
    value yielded is the point. k must be in [1, N-1]."""
    X, Y, Z = 1, 1, 0
    for i in range(255, -1, -1):
        X, Y, Z = _dbl(X, Y, Z)
        if (k >> i) & 1:
            X, Y, Z = _madd(X, Y, Z, GX, GY)
        yield None
    zi = inv(Z, P)
    z2 = zi * zi % P
    yield X * z2 % P, Y * z2 * zi % P


def run(gen):
    """Drive one of the generators here to its end without pausing; return its result."""
    r = None
    for x in gen:
        r = x
    return r


def i2b(n):
    return n.to_bytes(32, "big")


def b2i(b):
    return int.from_bytes(b, "big")


def new_key():
    """Private scalar from the RNG, rejection-sampled into [1, N-1] (ESP32: the hardware RNG, truly
    random while Wi-Fi or Bluetooth is on)."""
    while True:
        d = b2i(os.urandom(32))
        if 0 < d < N:
            return d


def public(d):
    """Generator (see mul_g): the public point of private scalar d."""
    return mul_g(d)


def _hmac(key, msg):
    # HMAC-SHA256 (RFC 2104) for keys up to the 64-byte block; MicroPython has no hmac module.
    k = key + bytes(64 - len(key))
    ih = hashlib.sha256(bytes(c ^ 0x36 for c in k))
    ih.update(msg)
    oh = hashlib.sha256(bytes(c ^ 0x5C for c in k))
    oh.update(ih.digest())
    return oh.digest()


def nonce(d, h):
    """RFC 6979 deterministic k for private d and message hash h (32 bytes); qlen = hlen = 256."""
    x = i2b(d) + i2b(b2i(h) % N)
    v = b"\x01" * 32
    k = bytes(32)
    k = _hmac(k, v + b"\x00" + x)
    v = _hmac(k, v)
    k = _hmac(k, v + b"\x01" + x)
    v = _hmac(k, v)
    while True:
        v = _hmac(k, v)
        t = b2i(v)
        if 0 < t < N:
            return t
        k = _hmac(k, v + b"\x00")
        v = _hmac(k, v)


def sign(d, msg):
    """Generator (see mul_g): ECDSA-SHA256 signature (r, s) of msg bytes with private scalar d."""
    h = hashlib.sha256(msg).digest()
    e = b2i(h)
    k = nonce(d, h)
    while True:
        pt = None
        for pt in mul_g(k):
            if pt is None:
                yield None
        r = pt[0] % N
        s = inv(k, N) * (e + r * d) % N
        if r and s:
            break
        k = nonce(d, hashlib.sha256(h + i2b(k)).digest())  # astronomically rare; any fresh k will do
    yield r, s


def __getattr__(name):
    # verify, decompress and der_sig are ecdsa.py, loaded on their first use (PEP 562; MicroPython has it
    # at its core feature level): signing a CSR does not load the verifier.
    if name in ("verify", "decompress", "der_sig"):
        from station.certs import ecdsa

        return getattr(ecdsa, name)
    raise AttributeError(name)
