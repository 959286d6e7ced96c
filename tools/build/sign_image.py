"""Sign a firmware image for UpdateFirmware (L01), and make a development manufacturer CA.

    make sign-image IMAGE=fw.img KEY=signing.key.pem CERT=signing.pem
        prints {"signature": ..., "signingCertificate": ...}: the two FirmwareType fields of an UpdateFirmware
    make manufacturer-ca OUT=dir [CN=...]
        writes dir/mfr-root.pem (install it with InstallCertificate, ManufacturerRootCertificate),
        dir/mfr-root.key.pem, and a signing certificate issued directly by it (the spec allows no
        intermediate for firmware signing): dir/signing.pem, dir/signing.key.pem

The signature is over the whole file with SHA-256 (L01.FR.04). The station takes what the signing
certificate's key can make: an EC P-256 key gives an ECDSA signature as a DER ECDSA-Sig-Value, an RSA key
(2048..4096 bits) RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (--pkcs1v15: PKCS#1 v1.5 instead);
base64 in `signature`. CPython with `cryptography`; a development CA is for the demo and tests, never a fleet.
"""

import argparse
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

PEM = serialization.Encoding.PEM


def sign(data, key, pkcs1v15=False):
    """base64 signature of data (bytes) by a private key object, as the station checks it."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif pkcs1v15:
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return base64.b64encode(sig).decode()


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def fields(image, key, cert_pem, pkcs1v15=False):
    """The FirmwareType fields signature and signingCertificate for image (bytes)."""
    return {"signature": sign(image, key, pkcs1v15), "signingCertificate": cert_pem}


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Development Manufacturer"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key(kind):
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)


def cert(subject_key, subject, issuer_key, issuer, ca, start_days=-1, days=3650):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=start_days))
         .not_valid_after(now + datetime.timedelta(days=start_days + days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def manufacturer_ca(cn="Development Manufacturer Root", kind="ec", signer_kind=None, **kw):
    """(root key, root cert, signing key, signing cert) objects: a root and a signer issued directly by it."""
    rk = _key(kind)
    root = cert(rk, cn, rk, cn, True)
    sk = _key(signer_kind or kind)
    return rk, root, sk, cert(sk, "Firmware Signing", rk, cn, False, **kw)


def pem_of(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(PEM).decode()
    return obj.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign", help="print signature and signingCertificate for an image")
    s.add_argument("--image", required=True)
    s.add_argument("--key", required=True, help="the signing certificate's private key (PEM)")
    s.add_argument("--cert", required=True, help="the signing certificate (PEM)")
    s.add_argument("--pkcs1v15", action="store_true", help="RSA keys: PKCS#1 v1.5 instead of PSS")
    m = sub.add_parser("ca", help="make a development manufacturer root and signing certificate")
    m.add_argument("--out", required=True)
    m.add_argument("--cn", default="Development Manufacturer Root")
    m.add_argument("--kind", choices=("ec", "rsa"), default="ec")
    a = p.parse_args(argv)
    if a.cmd == "sign":
        with open(a.image, "rb") as f:
            data = f.read()
        with open(a.cert) as f:
            pem = f.read()
        print(json.dumps(fields(data, load_key(a.key), pem, a.pkcs1v15), indent=1))
        return 0
    os.makedirs(a.out, exist_ok=True)
    rk, root, sk, sc = manufacturer_ca(a.cn, a.kind)
    for name, obj in (("mfr-root.pem", root), ("mfr-root.key.pem", rk), ("signing.pem", sc),
                      ("signing.key.pem", sk)):
        with open(os.path.join(a.out, name), "w") as f:
            f.write(pem_of(obj))
    print("manufacturer root %s, signing certificate %s" % tuple(os.path.join(a.out, n) for n in
                                                               ("mfr-root.pem", "signing.pem")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
