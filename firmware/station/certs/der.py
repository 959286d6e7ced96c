# Minimal DER encoder: what a PKCS#10 request and an EC key need (the reader is certs/x509.py), and the
# pre-encoded OIDs both sides compare against.

# Pre-encoded OBJECT IDENTIFIERs (tag, length, body): cheaper than an OID encoder.
OID_EC_PUBKEY = b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"  # 1.2.840.10045.2.1 id-ecPublicKey
OID_P256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"  # 1.2.840.10045.3.1.7 prime256v1
OID_ECDSA_SHA256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"  # 1.2.840.10045.4.3.2
OID_RSA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"  # 1.2.840.113549.1.1.1 rsaEncryption
OID_RSA_SHA256 = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"  # 1.2.840.113549.1.1.11 sha256WithRSAEncryption
OID_RSA_PSS = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a"  # 1.2.840.113549.1.1.10 RSASSA-PSS
OID_MGF1 = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08"  # 1.2.840.113549.1.1.8 id-mgf1
OID_SHA256 = b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01"  # 2.16.840.1.101.3.4.2.1 id-sha256
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
