# Optional: the station's certificates (keys, CSRs, the CA store, CertificateSigned, signature and chain
# checks). Include it from a board's freeze manifest after firmware/manifest.py; without it the certificate
# triggers answer NotImplemented and the certificate CALLs NotSupported.
package(  # noqa: F821
    "station/certs",
    files=("__init__.py", "cert.py", "csr.py", "der.py", "ecdsa.py", "exts.py", "handlers.py", "keystore.py",
           "names.py", "p256.py", "roots.py", "rsa.py", "signed.py", "verify.py", "x509.py"),
    base_path="../..",
)
