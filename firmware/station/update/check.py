# The two signature checks of a secure update (L01): the signing certificate before answering (L01.FR.21/22)
# and the image's signature after the download (L01.FR.03/04). Generators, as certs/verify.py: they yield
# None while they work (an ECDSA check once per scalar bit) so the caller lets the event loop run.
import binascii

from station.certs import roots, verify, x509

_MANUFACTURER = "ManufacturerRootCertificate"


def signing_cert(store, pem):
    """Generator; the last value is (Cert, None) when pem is one certificate issued directly by an installed
    ManufacturerRootCertificate (no intermediates: the spec forbids them for firmware signing) and valid
    now (once the clock is known), else (None, reason)."""
    try:
        ders = x509.unpem(pem)
        if len(ders) != 1:
            raise ValueError("not one certificate")
        c = x509.parse(ders[0])
    except ValueError as e:
        yield None, "BadCertificate: %s" % e
        return
    anchors = roots.Roots(store).anchors(_MANUFACTURER)
    if not anchors:
        yield None, "NoManufacturerRoot"
        return
    r = None
    for r in verify.chain([c], anchors, roots.now()):
        if r is None:
            yield None
    yield (c, None) if r is None else (None, r)


def image(cert, h, sig_b64):
    """Generator; the last value is True when sig_b64 (base64) is the signature over the SHA-256 digest h by
    the certificate's key: ECDSA P-256 as a DER ECDSA-Sig-Value, or RSA, PSS or PKCS#1 v1.5 (the key
    decides). False for a missing, malformed or wrong signature, and for a key this station cannot use."""
    try:
        sig = binascii.a2b_base64(sig_b64 or "")
    except Exception:  # binascii.Error on CPython, ValueError on MicroPython
        yield False
        return
    if not sig:
        yield False
        return
    ok = False
    try:
        for ok in verify.digest(cert.spki, h, sig):
            if ok is None:
                yield None
    except ValueError:  # unsupported key
        ok = False
    yield ok is True
