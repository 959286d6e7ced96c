"""Writes fwsig.py, the fixed signing material of mpt_update.py (CPython, `cryptography`; run it again only
to renew it: .venv/bin/python tests_host/mp/fwsig_make.py). Valid 2026-01-01 .. 2046-01-01."""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tools.build import sign_image as si


def image(n, fill=0x41):
    # a ROMFS-shaped image as mpt_slots builds them: magic, the length of the rest as a varuint, the rest
    body = n - 6
    return b"\xd2\xcd\x31" + bytes([0x80 | (body >> 14) & 0x7F, 0x80 | (body >> 7) & 0x7F, body & 0x7F]) + \
        bytes([fill]) * body


def _cert(sk, subject, ik, issuer, ca, nb, na):
    c = si.cert(sk, subject, ik, issuer, ca)
    b = (x509.CertificateBuilder().subject_name(c.subject).issuer_name(c.issuer).public_key(sk.public_key())
         .serial_number(c.serial_number).not_valid_before(nb).not_valid_after(na))
    for e in c.extensions:
        b = b.add_extension(e.value, e.critical)
    return b.sign(ik, hashes.SHA256())


def main():
    utc = datetime.timezone.utc
    nb, na = datetime.datetime(2026, 1, 1, tzinfo=utc), datetime.datetime(2046, 1, 1, tzinfo=utc)
    rk = si._key("ec")
    root = _cert(rk, "Mfr Root", rk, "Mfr Root", True, nb, na)
    sk = si._key("ec")
    signer = _cert(sk, "Signer", rk, "Mfr Root", False, nb, na)
    rsk = si._key("rsa")
    rsigner = _cert(rsk, "RSA Signer", rk, "Mfr Root", False, nb, na)
    ok = _cert(rk, "Old Signer", rk, "Mfr Root", False, datetime.datetime(2020, 1, 1, tzinfo=utc),
               datetime.datetime(2021, 1, 1, tzinfo=utc))
    ork = si._key("ec")
    other = _cert(sk, "Signer", ork, "Mfr Root", False, nb, na)  # same names, another root's key
    img = image(9000)
    out = ["# Made by fwsig_make.py (CPython): signing material for mpt_update.py. Do not edit.", "# ruff: noqa: E501",
           "ROOT_DER = %r" % root.public_bytes(serialization.Encoding.DER),
           "SIGNER = %r" % si.pem_of(signer), "RSA_SIGNER = %r" % si.pem_of(rsigner),
           "EXPIRED = %r" % si.pem_of(ok), "FOREIGN = %r" % si.pem_of(other),
           "SIG = %r" % si.sign(img, sk), "RSA_PSS = %r" % si.sign(img, rsk),
           "RSA_V15 = %r" % si.sign(img, rsk, True), "BAD_SIG = %r" % si.sign(img + b"x", sk), ""]
    with open(os.path.join(os.path.dirname(__file__), "fwsig.py"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
