# PKCS#10 certification request (RFC 2986) for an EC P-256 key, signed with ECDSA-SHA256, plus PEM.
import binascii

from station.certs import der, p256

_MAX_NAME = 64  # X.520 ub-common-name / ub-organization-name


def point(x, y):
    """SEC1 uncompressed encoding of the point (x, y)."""
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def spki(x, y):
    """SubjectPublicKeyInfo DER of the P-256 point (x, y)."""
    return der.seq(der.seq(der.OID_EC_PUBKEY, der.OID_P256), der.bits(point(x, y)))


def _rdn(oid, value):
    return der.tlv(0x31, der.seq(oid, der.text(value)))  # SET OF one AttributeTypeAndValue


def name(cn, org):
    """X.501 Name with O then CN (most significant first, as CAs print it)."""
    for v in (cn, org):
        if not v or len(v) > _MAX_NAME:
            raise ValueError("bad subject name %r" % (v,))
    return der.seq(_rdn(der.OID_O, org), _rdn(der.OID_CN, cn))


def build(d, pub, cn, org):
    """Generator (see p256.mul_g): the CSR DER for private scalar d with public point pub."""
    info = der.seq(der.uint(0), name(cn, org), spki(*pub), b"\xa0\x00")  # attributes [0]: empty
    sig = None
    for sig in p256.sign(d, info):
        if sig is None:
            yield None
    yield der.seq(info, der.seq(der.OID_ECDSA_SHA256), der.bits(der.seq(der.uint(sig[0]), der.uint(sig[1]))))


def pem(data, label="CERTIFICATE REQUEST"):
    b64 = binascii.b2a_base64(data).replace(b"\n", b"").decode()
    lines = ["-----BEGIN %s-----" % label]
    for i in range(0, len(b64), 64):
        lines.append(b64[i : i + 64])
    lines.append("-----END %s-----" % label)
    return "\n".join(lines) + "\n"


def ec_key(d, x, y):
    """SEC1 ECPrivateKey DER (RFC 5915) of the key pair: what TLS client authentication loads."""
    return der.seq(der.uint(1), der.tlv(0x04, p256.i2b(d)), der.tlv(0xA0, der.OID_P256),
                   der.tlv(0xA1, der.bits(point(x, y))))
