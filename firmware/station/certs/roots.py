# Installed CA certificates (M03 GetInstalledCertificateIds, M04 DeleteCertificate, M05 InstallCertificate):
# one DER file per certificate, named <type letter><2 digits> in the certificate store (c00, m01, ...), so
# the listing alone says what is installed and RAM holds one parsed certificate at a time. DER, not PEM:
# smaller on flash, and what MicroPython's tls takes as a trust anchor (CSMS roots, see connection.tls).
# Loaded only when a certificate message arrives.
from station import clock
from station import log
from station.certs import installed, x509

_TAG = "certs"
TYPES = {"CSMSRootCertificate": "c", "ManufacturerRootCertificate": "m", "V2GRootCertificate": "v",
         "MORootCertificate": "o"}
_NAMES = {v: k for k, v in TYPES.items()}
_HASHES = ("SHA256",)  # MicroPython's hashlib (Unix, ESP32) has sha256 but neither sha384 nor sha512


def norm(h):
    """certificateHashData in the form compared here: lower-case hex, serial without leading zeros."""
    s = h.get("serialNumber", "").lower().lstrip("0") or "0"
    return (h.get("hashAlgorithm"), h.get("issuerNameHash", "").lower(), h.get("issuerKeyHash", "").lower(), s)


def now():
    """The time validity is checked against (b"YYYYMMDDHHMMSS"), or None while the clock is unknown: a board
    whose RTC restarted at 2000 would refuse every certificate, so validity then waits for the CSMS's time."""
    return x509.time_of(clock.rfc3339()) if clock.known() else None


class Roots:
    def __init__(self, store, bound=10):
        # store: the certificate directory (shared with the keystore's files); bound: CA certificates at
        # most (SecurityCtrlr.CertificateEntries' maxLimit, M05.FR.06).
        self.store = store
        self.bound = bound

    def names(self, letter=None):
        return [n for n in installed(self.store) if letter is None or n[0] == letter]

    def count(self):
        return len(self.names())

    def load(self, name):
        """The parsed certificate in file `name`, or None (a damaged file is logged and skipped)."""
        der = self.store.read(name)
        try:
            return x509.parse(der)
        except (ValueError, TypeError) as e:  # TypeError: file gone (None)
            log.warn(_TAG, "installed certificate %s unreadable: %r", name, e)
            return None

    def anchors(self, ctype):
        """Parsed certificates of one InstallCertificateUse type (the chain checks' trust anchors)."""
        out = []
        for n in self.names(TYPES[ctype]):
            c = self.load(n)
            if c is not None:
                out.append(c)
        return out

    def issuer_of(self, cert):
        """The installed CA that issued cert (by name), cert itself when self-issued or none is found.
        (Spec silent for a non-root CA installed without its issuer: its own key stands in, so the hash
        data is still stable and DeleteCertificate can name it.)"""
        if cert.issuer == cert.subject:
            return cert
        for n in self.names():
            c = self.load(n)
            if c is not None and c.subject == cert.issuer:
                return c
        return cert

    def hash_of(self, cert, alg="SHA256"):
        h = x509.hash_data(cert, self.issuer_of(cert))
        if alg != "SHA256":
            raise ValueError(alg)
        return h

    # M05
    def install(self, req):
        """InstallCertificateRequest payload -> InstallCertificateResponse payload."""
        letter = TYPES.get(req.get("certificateType"))
        try:
            if letter is None:
                raise ValueError("unknown certificateType")
            ders = x509.unpem(req["certificate"])
            if len(ders) != 1:
                raise ValueError("%d certificates, want one" % len(ders))
            cert = x509.parse(ders[0])
            if not cert.ca:
                raise ValueError("not a CA certificate")
            t = now()
            if t is not None and not cert.nb <= t <= cert.na:
                raise ValueError("outside its validity period")
            if t is None:
                log.warn(_TAG, "clock unknown: validity of the new %s not checked", req["certificateType"])
        except (ValueError, TypeError, KeyError) as e:
            log.warn(_TAG, "InstallCertificate rejected: %s", e)
            return _st("Rejected", "InvalidCertificate", e)
        names = self.names(letter)
        key = norm(self.hash_of(cert))
        name = None
        for n in names:  # the same certificate again: replaced (M05.FR.17)
            c = self.load(n)
            if c is None or norm(self.hash_of(c)) == key:
                name = n  # (an unreadable file is replaced by a good one)
                break
        if name is None:
            if self.count() >= self.bound:
                log.warn(_TAG, "InstallCertificate rejected: %d certificates installed", self.bound)
                return _st("Rejected", "TooManyCertificates")
            used = set(names)
            i = 0
            while "%s%02d" % (letter, i) in used:
                i += 1
            name = "%s%02d" % (letter, i)
        try:
            self.store.write(name, ders[0])
        except OSError as e:
            log.error(_TAG, "InstallCertificate failed: %r", e)
            return _st("Failed", "StorageFull", e)
        log.info(_TAG, "%s installed as %s", req["certificateType"], name)
        return {"status": "Accepted"}

    # M03
    def ids(self, req, chain=None):
        """GetInstalledCertificateIdsRequest payload -> response. chain: the station's V2G certificate
        chain (parsed, leaf first) or None, listed for V2GCertificateChain."""
        want = req.get("certificateType") or tuple(TYPES) + ("V2GCertificateChain",)
        out = []
        for n in self.names():
            t = _NAMES[n[0]]
            if t in want:
                c = self.load(n)
                if c is not None:
                    out.append({"certificateType": t, "certificateHashData": self.hash_of(c)})
        if chain and "V2GCertificateChain" in want:
            e = {"certificateType": "V2GCertificateChain", "certificateHashData": self._chained(chain, 0)}
            kids = [self._chained(chain, i) for i in range(1, min(len(chain), 5))]  # max 4 children (M03.FR.05)
            if kids:
                e["childCertificateHashData"] = kids
            out.append(e)
        if not out:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": out}

    def _chained(self, chain, i):
        # In a chain, the issuer is the next certificate (its parent), the last one's an installed CA.
        c = chain[i]
        return x509.hash_data(c, chain[i + 1]) if i + 1 < len(chain) else self.hash_of(c)

    # M04
    def delete(self, req, own=()):
        """DeleteCertificateRequest payload -> response. own: hash data (norm) of the station's own
        certificates, which are never deleted this way (M04.FR.06: Failed)."""
        h = req["certificateHashData"]
        alg = h.get("hashAlgorithm")
        if alg not in _HASHES:
            # Spec silent: NotFound, since no certificate here can be found by a hash we cannot compute.
            return _st("NotFound", "UnsupportedHash", alg)
        want = norm(h)
        if want in own:
            log.warn(_TAG, "DeleteCertificate refused: the station's own certificate")
            return _st("Failed", "OwnCertificate")
        for n in self.names():
            c = self.load(n)
            if c is not None and norm(self.hash_of(c, alg)) == want:
                self.store.remove(n)
                if self.store.read(n) is not None:  # remove() swallows the error: look
                    return _st("Failed", "StorageError")
                log.info(_TAG, "certificate %s deleted", n)
                return {"status": "Accepted"}
        return {"status": "NotFound"}


def _st(status, reason, info=None):
    r = {"status": status, "statusInfo": {"reasonCode": reason}}
    if info is not None:
        r["statusInfo"]["additionalInfo"] = str(info)[:512]
    return r

