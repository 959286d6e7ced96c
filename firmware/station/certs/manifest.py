# Optional: the station's certificates (keys, CSRs, CertificateSigned). Include it from a board's freeze
# manifest after firmware/manifest.py; without it the certificate triggers answer NotImplemented.
package("station/certs", files=("__init__.py", "csr.py", "der.py", "keystore.py", "p256.py", "x509.py"),  # noqa: F821
        base_path="../..")
