# P-256 arithmetic and ECDSA against published vectors (RFC 6979 A.2.5) and curve identities.
import hashlib

from station.certs import p256
from mptest import eq

HEAP = "48K"  # 32K passed from some checkout paths and not others: too close to the edge
TIMEOUT = 30

# RFC 6979, appendix A.2.5 (P-256): private key, public key, and the SHA-256 "sample"/"test" signatures.
_D = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
_UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
_UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299


def test_public_key_of_rfc6979_vector():
    eq(p256.run(p256.public(_D)), (_UX, _UY))


def test_rfc6979_nonce_and_signature_sample():
    h = hashlib.sha256(b"sample").digest()
    eq(p256.nonce(_D, h), 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60)
    r, s = p256.run(p256.sign(_D, b"sample"))
    eq(r, 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716)
    eq(s, 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8)


def test_rfc6979_signature_test():
    r, s = p256.run(p256.sign(_D, b"test"))
    eq(r, 0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367)
    eq(s, 0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083)


def test_small_and_edge_multiples():
    g = p256.run(p256.mul_g(1))
    eq(g, (p256.GX, p256.GY))
    # N-1 = -G: same x, negated y; exercises the end of the scalar range.
    eq(p256.run(p256.mul_g(p256.N - 1)), (p256.GX, p256.P - p256.GY))
    two = p256.run(p256.mul_g(2))
    three = p256.run(p256.mul_g(3))
    assert p256.on_curve(*two) and p256.on_curve(*three)
    # 2G computed by affine doubling independently of the Jacobian formulas.
    lam = 3 * (p256.GX * p256.GX - 1) * p256.inv(2 * p256.GY, p256.P) % p256.P
    x2 = (lam * lam - 2 * p256.GX) % p256.P
    eq(two, (x2, (lam * (p256.GX - x2) - p256.GY) % p256.P))


def test_new_key_in_range_and_on_curve():
    seen = set()
    for _ in range(3):
        d = p256.new_key()
        assert 0 < d < p256.N
        seen.add(d)
        assert p256.on_curve(*p256.run(p256.public(d)))
    eq(len(seen), 3)


def test_hmac_sha256_rfc4231_case2():
    # RFC 4231 test case 2 (4-byte key); the nonce derivation uses 32-byte keys the same way.
    mac = p256._hmac(b"Jefe", b"what do ya want for nothing?")
    eq(mac.hex(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_mul_g_yields_every_bit():
    steps = list(p256.mul_g(5))
    eq(len(steps), 257)
    assert all(s is None for s in steps[:-1])
