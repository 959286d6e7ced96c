# ECDSA P-256 verification, DER signatures, point decompression and RSA key limits under MicroPython
# (station.certs.p256, rsa); the checks against `cryptography` are in tests_host/test_verify.py.
import hashlib

from station.certs import der, p256
from mptest import eq, raises

HEAP = "56K"  # the largest needed 48K (4K steps, .mpy build), plus 8K: heap varies with the checkout path
TIMEOUT = 60


def test_der_sig_strict():
    ok = der.seq(der.uint(5), der.uint(0x80))
    eq(p256.der_sig(ok), (5, 0x80))
    eq(p256.der_sig(der.seq(der.uint(p256.N - 1), der.uint(1 << 255))), (p256.N - 1, 1 << 255))
    bad = [
        b"",
        b"\x30",
        b"\x30\x00",
        ok[:-1],
        ok + b"\x00",  # trailing
        b"\x31" + ok[1:],  # SET
        b"\x30\x81" + ok[1:],  # long length form for a short length
        b"\x30\x06\x02\x01\x05\x04\x01\x01",  # OCTET STRING
        b"\x30\x06\x02\x01\x85\x02\x01\x01",  # negative r
        b"\x30\x07\x02\x02\x00\x05\x02\x01\x01",  # non-minimal r
        b"\x30\x07\x02\x01\x05\x02\x02\xff\x80",  # negative s
        b"\x30\x05\x02\x00\x02\x01\x01",  # empty r
        b"\x30\x09\x02\x01\x05\x02\x01\x01\x02\x01\x01",  # three integers
        b"\x30\x06\x02\x01\x05\x02\x02\x01",  # s runs past the end
        der.seq(der.uint(1 << 264), der.uint(1)),  # 34 octets
        bytearray(80),
        "0\x06\x02\x01\x05\x02\x01\x01",  # a str
    ]
    for b in bad:
        raises(ValueError, p256.der_sig, b)


def test_decompress_and_curve_checks():
    for k in (1, 2, 3, 0xC0FFEE, p256.N - 1):
        x, y = p256.run(p256.mul_g(k))
        eq(p256.decompress(x, y & 1), y)
        eq(p256.decompress(x, 1 - (y & 1)), p256.P - y)
    raises(ValueError, p256.decompress, p256.P, 0)
    raises(ValueError, p256.decompress, -1, 0)
    bad = 0  # about half of all x have no point
    for x in range(1, 40):
        try:
            y = p256.decompress(x, 0)
            assert p256.on_curve(x, y)
        except ValueError:
            bad += 1
    assert 5 < bad < 35, bad


def test_verify_own_signatures_and_edges():
    d = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721  # RFC 6979 A.2.5
    x, y = p256.run(p256.public(d))
    r, s = p256.run(p256.sign(d, b"sample"))
    h = hashlib.sha256(b"sample").digest()
    steps = list(p256.verify(x, y, h, r, s))
    eq(steps[-1], True)
    eq(len(steps), 257)  # a yield per bit, then the result
    eq(p256.run(p256.verify(x, y, hashlib.sha256(b"samplf").digest(), r, s)), False)
    eq(p256.run(p256.verify(x, y, h, r, p256.N - s)), True)  # (r, -s) is valid too: ECDSA is malleable
    eq(p256.run(p256.verify(x, y, h, r, s + 1)), False)
    eq(p256.run(p256.verify(x, y, h, s, r)), False)
    for rr, ss in ((0, s), (r, 0), (p256.N, s), (r, p256.N), (r + p256.N, s), (-r, s)):
        eq(list(p256.verify(x, y, h, rr, ss)), [False])  # out of range: refused before any work
    eq(list(p256.verify(x, y + 1, h, r, s)), [False])  # off the curve
    eq(list(p256.verify(x, p256.P + y, h, r, s)), [False])
    eq(list(p256.verify(x, y, h[:31], r, s)), [False])
    # Q = G and Q = -G: G+Q is 2G, or the point at infinity (the precomputed sum is dropped).
    for k in (1, p256.N - 1, 2):
        qx, qy = p256.run(p256.public(k))
        for m in (b"a", b"bc", b"xyz"):
            r2, s2 = p256.run(p256.sign(k, m))
            eq(p256.run(p256.verify(qx, qy, hashlib.sha256(m).digest(), r2, s2)), True)


def test_rsa_key_limits():
    from station.certs import rsa

    def pub(n, e):
        return der.seq(der.uint(n), der.uint(e))

    n = (1 << 2047) | 1
    eq(rsa.key(pub(n, 65537)), (n, 65537))
    e = raises(ValueError, rsa.key, pub((1 << 2046) | 1, 65537))  # 2047 bits: OCPP A00.FR.503
    assert str(e).startswith("unsupported key"), e
    raises(ValueError, rsa.key, pub((1 << 4096) | 1, 65537))  # 4097 bits
    eq(rsa.key(pub((1 << 4095) | 1, 3))[1], 3)
    for bad in (pub(n, 1), pub(n, 4), pub(n - 1, 65537), pub(n, n + 2), der.seq(der.uint(n)), pub(n, 3) + b"\x00",
                pub(n, 1 << 300 | 1), der.seq(b"\x02\x01\xff", der.uint(3))):
        raises(ValueError, rsa.key, bad)
    eq(rsa._nbits(1), 1)
    eq(rsa._nbits(255), 8)
    eq(rsa._nbits(256), 9)
    eq(rsa._nbits(n), 2048)
