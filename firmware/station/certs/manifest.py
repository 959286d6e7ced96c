# Optional: the station's certificates (keys, CSRs, CertificateSigned). Include it from a board's freeze
# manifest after firmware/manifest.py; without it the certificate triggers answer NotImplemented.
package("station/certs",  # noqa: F821 - manifest functions are provided by the build
        files=("__init__.py", "csr.py", "der.py", "handlers.py", "keystore.py", "p256.py", "roots.py", "signed.py",
               "x509.py"),
        base_path="../..")
