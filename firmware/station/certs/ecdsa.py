# ECDSA-SHA256 verification on P-256, the other half of p256.py (whose curve arithmetic it uses), kept
# apart so that signing a CSR does not load it; reachable as p256.verify, p256.decompress, p256.der_sig.
# u1*G + u2*Q by Shamir's trick: one pass over both scalars, adding G, Q or G+Q, all three affine.
# Public values only (key, signature, digest): that the big ints are not constant-time does not matter here.
from station.certs.p256 import B, GX, GY, N, P, _dbl, _madd, b2i, inv, on_curve  # p256's own arithmetic


def verify(x, y, h, r, s):
    """Generator (as p256.mul_g): ECDSA-SHA256 check of signature (r, s) over the digest h (32 bytes) with the
    public point (x, y); the last value yielded is True or False. False, never an exception, for r or s
    outside [1, N-1] and for a point off the curve (P-256 has prime order: on the curve is enough)."""
    if not (0 < r < N and 0 < s < N and len(h) == 32 and on_curve(x, y)):
        yield False
        return
    w = inv(s, N)
    u1 = b2i(h) * w % N  # a 256-bit digest is used whole (no truncation for P-256)
    u2 = r * w % N
    # G+Q made affine with one inversion (a C-level pow): then every step is a mixed addition, cheaper
    # than the full Jacobian+Jacobian addition a Jacobian G+Q would need at each of ~64 steps.
    X, Y, Z = _madd(x, y, 1, GX, GY)
    sx = sy = None
    if Z:
        zi = inv(Z, P)
        z2 = zi * zi % P
        sx, sy = X * z2 % P, Y * z2 * zi % P
    X, Y, Z = 1, 1, 0
    for i in range(255, -1, -1):
        X, Y, Z = _dbl(X, Y, Z)
        b = (u1 >> i) & 1 | ((u2 >> i) & 1) << 1
        if b == 1:
            X, Y, Z = _madd(X, Y, Z, GX, GY)
        elif b == 2:
            X, Y, Z = _madd(X, Y, Z, x, y)
        elif b == 3 and sx is not None:  # None: Q = -G, so G+Q is the point at infinity: nothing to add
            X, Y, Z = _madd(X, Y, Z, sx, sy)
        yield None
    if not Z:
        yield False
        return
    # x(R) = X/Z^2 must be r mod N: x(R) is r, or r + N when that is still below P. No inversion needed.
    zz = Z * Z % P
    yield X == r * zz % P or (r + N < P and X == (r + N) * zz % P)


def decompress(x, parity):
    """y of the curve point with this x and y's parity (0 even, 1 odd); ValueError when there is none.
    P = 3 (mod 4), so the square root is one power: a^((P+1)/4)."""
    if not 0 <= x < P:
        raise ValueError("bad EC point")
    a = (x * x * x - 3 * x + B) % P
    y = pow(a, (P + 1) >> 2, P)
    if y * y % P != a:
        raise ValueError("bad EC point")
    return P - y if y & 1 != parity else y  # y is never 0: the group has no point of order 2


def der_sig(b):
    """(r, s) of a DER ECDSA-Sig-Value: ValueError for anything but a SEQUENCE of two minimal, positive
    INTEGERs of at most 33 octets, nothing after it. (r, s in range is verify's check.)"""
    n = len(b)
    if not 8 <= n <= 72 or b[0] != 0x30 or b[1] != n - 2:  # n <= 72: the short length form only
        raise ValueError("bad signature")
    p = 2
    out = []
    for _ in range(2):
        if p + 2 > n or b[p] != 0x02:
            raise ValueError("bad signature")
        k = b[p + 1]
        p += 2
        if not 0 < k <= 33 or p + k > n or b[p] & 0x80 or k > 1 and not b[p] and not b[p + 1] & 0x80:
            raise ValueError("bad signature")  # empty, too long, negative or not minimal
        out.append(b2i(b[p : p + k]))
        p += k
    if p != n:
        raise ValueError("bad signature")
    return out[0], out[1]
