# Minimal DER: an encoder for what a PKCS#10 request and an EC key need, and a bounds-checked reader
# that walks untrusted certificates. Reader errors are ValueError, nothing else.

# Pre-encoded OBJECT IDENTIFIERs (tag, length, body): cheaper than an OID encoder.
OID_EC_PUBKEY = b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1 id-ecPublicKey
OID_P256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7 prime256v1
OID_ECDSA_SHA256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"  # 1.2.840.10045.4.3.2
OID_CN = b"\x06\x03\x55\x04\x03"  # 2.5.4.3 commonName
OID_O = b"\x06\x03\x55\x04\x0a"  # 2.5.4.10 organizationName


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        h = bytes((tag, n))
    elif n < 0x100:
        h = bytes((tag, 0x81, n))
    else:
        h = bytes((tag, 0x82, n >> 8, n & 0xFF))  # < 64 KiB: plenty for anything built here
    return h + body


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def uint(n):
    # Non-negative INTEGER, minimal length, leading 0 when the top bit would read as a sign.
    b = n.to_bytes((len("%x" % n) + 1) // 2 or 1, "big") if n else b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return tlv(0x02, b)


def bits(b):
    return tlv(0x03, b"\x00" + b)  # no unused bits


def text(s):
    # PrintableString when every character allows it (what most CAs expect), else UTF8String.
    for c in s:
        if not (c.isalpha() and c < "\x80" or c.isdigit() or c in " '()+,-./:=?"):
            return tlv(0x0C, s.encode())
    return tlv(0x13, s.encode())


def read(buf, pos, end=None):
    """One TLV at buf[pos:end]: (tag, body_start, body_end). Single-byte tags only (all X.509 needs)."""
    if end is None:
        end = len(buf)
    if pos + 2 > end:
        raise ValueError("truncated")
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or pos + k > end:
            raise ValueError("bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise ValueError("truncated")
    return tag, pos, pos + n


def expect(buf, pos, end, tag):
    t, s, e = read(buf, pos, end)
    if t != tag:
        raise ValueError("tag %02x, want %02x" % (t, tag))
    return s, e


def cert_spki(cert):
    """The SubjectPublicKeyInfo TLV bytes of an X.509 certificate (DER)."""
    s, e = expect(cert, 0, len(cert), 0x30)  # Certificate
    s, e = expect(cert, s, e, 0x30)  # tbsCertificate
    t, _, n = read(cert, s, e)
    if t == 0xA0:  # [0] EXPLICIT version
        s = n
    for _ in range(5):  # serialNumber, signature, issuer, validity, subject
        s = read(cert, s, e)[2]
    t, _, n = read(cert, s, e)
    if t != 0x30:
        raise ValueError("no SubjectPublicKeyInfo")
    return cert[s:n]


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
