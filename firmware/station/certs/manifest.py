# Optional: the station's certificates (keys, CSRs, CertificateSigned, signature and chain checks). Include it
# from a board's freeze manifest after firmware/manifest.py; without it the certificate triggers answer
# NotImplemented.
package(  # noqa: F821
    "station/certs",
    files=("__init__.py", "cert.py", "csr.py", "der.py", "ecdsa.py", "exts.py", "keystore.py", "names.py", "p256.py",
           "rsa.py", "verify.py", "x509.py"),
    base_path="../..",
)
