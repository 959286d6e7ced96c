# X.501 Names and OCPP certificate hash data, for x509.attr and x509.hash_data (loaded on first use).
import binascii
import hashlib

from station.certs.x509 import expect, read


def attr(name, oid):
    """str value of the first attribute of type oid (pre-encoded OID TLV) in the DER Name, or None."""
    s, e = expect(name, 0, len(name), 0x30)
    if e != len(name):
        raise ValueError("bad Name")
    while s < e:
        r, rend = expect(name, s, e, 0x31)  # RelativeDistinguishedName: SET OF AttributeTypeAndValue
        if r == rend:
            raise ValueError("bad Name")
        while r < rend:
            a, q = expect(name, r, rend, 0x30)
            o, v = expect(name, a, q, 0x06)
            t, vs, ve = read(name, v, q)
            if ve != q:
                raise ValueError("bad Name")
            if name[a:v] == oid:
                return _text(t, name[vs:ve])
            r = q
        s = rend
    return None


def _text(tag, b):
    # DirectoryString and the other string types X.520 attributes use.
    if tag == 0x0C:  # UTF8String
        try:
            return b.decode()
        except UnicodeError:  # a ValueError already, but callers get the plain kind
            raise ValueError("bad string") from None
    if tag in (0x13, 0x16):  # PrintableString, IA5String: ASCII
        if any(c > 0x7F for c in b):
            raise ValueError("bad string")
        return b.decode()
    if tag == 0x14:  # TeletexString: read as Latin-1, as most software does
        return "".join(chr(c) for c in b)
    if tag == 0x1E and not len(b) & 1:  # BMPString: UCS-2, big-endian (no surrogates in UCS-2)
        u = [b[i] << 8 | b[i + 1] for i in range(0, len(b), 2)]
        if any(0xD800 <= c < 0xE000 for c in u):
            raise ValueError("bad string")
        return "".join(chr(c) for c in u)
    raise ValueError("bad string")


def _hex(b):
    return binascii.hexlify(b).decode()


def hash_data(cert, issuer):
    """OCPP 2.0.1 CertificateHashDataType of cert, signed by issuer (the cert itself for a root): SHA-256
    over cert's issuer Name (DER) and over the issuer's subjectPublicKey bits (as OCSP's CertID), and the
    serial as lower-case hex without leading zeros ("0" for zero; a negative serial, which RFC 5280
    forbids, gives its two's complement octets)."""
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": _hex(hashlib.sha256(cert.issuer).digest()),
        "issuerKeyHash": _hex(hashlib.sha256(issuer.key).digest()),
        "serialNumber": _hex(cert.serial).lstrip("0") or "0",
    }
