# Station key pairs and certificates on flash, one slot per certificate type:
#   <slot>.pend  the key of the CSR sent last, waiting for its CertificateSigned (never leaves the station)
#   <slot>.crt   the installed certificate chain with its key
# Each file is a line "<d hex> <x hex> <y hex> <unix time>" and then the PEM text (CSR or chain), written
# atomically by station.store, so a power cut leaves a whole file. Not JSON: a chain of up to 10 kB
# would be escaped and copied again, and heap without PSRAM is tight.
# The private key of an installed certificate stays until a new certificate replaces it: the station
# keeps using the old one while a renewal is pending.
import asyncio
from station import clock
from station import log
from station.certs import csr, p256

CS = "ChargingStationCertificate"
V2G = "V2GCertificate"
ACCEPTED = "Accepted"
REJECTED = "Rejected"
_SLOTS = {CS: "cs", V2G: "v2g", None: "comb"}  # None: SignCombinedCertificate / type omitted
_MAX_CHAIN = 10000  # CertificateSignedRequest.certificateChain maxLength


def _slot(kind):
    s = _SLOTS.get(kind)
    if s is None:
        raise ValueError("unknown certificate type %r" % (kind,))
    return s


class Keystore:
    def __init__(self, store, every=8):
        self.store = store
        self.every = every  # scalar-multiplication bits between event-loop yields
        self._busy = set()  # slots whose CSR is reserved or being built (not on flash yet)
        self._asked = {}  # slot -> clock.mono() when its CSR was built in this boot (blocks a new one a while)

    def _load(self, name, body=None):
        # -> {"d", "x", "y", "t"} (+ body: the PEM text under that key), or None
        try:
            f = self.store.fs.open(self.store.path(name), "r")
        except OSError:
            return None
        try:
            with f:
                h = f.readline().split()
                rec = {"d": int(h[0], 16), "x": int(h[1], 16), "y": int(h[2], 16), "t": int(h[3])}
                if body:
                    rec[body] = f.read()
            return rec
        except (ValueError, IndexError) as e:  # damaged: must not wedge certificate handling forever
            # (Only parse errors: a MemoryError here must never cost us the key.)
            log.warn("certs", "dropping unreadable %s: %r", name, e)
            self.store.remove(name)
            self._asked.pop(name.split(".")[0], None)  # nothing left to wait for
            return None

    def _save(self, name, d, pub, t, pem):
        # A str, not bytes: MicroPython writes it to the binary file as UTF-8 without another copy.
        self.store.write(name, "%064x %064x %064x %d\n" % (d, pub[0], pub[1], t) + pem)

    def pending(self, kind):
        """The waiting request of this type: dict with "csr" (PEM) and "t" (Unix time built), or None."""
        return self._load(_slot(kind) + ".pend", "csr")

    def can_request(self, kind, cn, org, max_wait=None):
        """(True, None) when a CSR of this type can be built now, else (False, reasonCode).
        max_wait: seconds after which a request still unanswered no longer blocks a new one. Only a
        request of this boot blocks (RAM, monotonic time): after a reboot the key waits on flash for a
        late CertificateSigned, but a new trigger is served."""
        try:
            slot = _slot(kind)
            csr.name(cn, org)
        except ValueError:
            return False, "MissingIdentity"  # unset or over-long serial / organisation / SECC id
        if slot in self._busy:
            return False, "CsrPending"
        t = self._asked.get(slot)
        if t is not None and (max_wait is None or clock.mono() - t < max_wait):
            return False, "CsrPending"
        return True, None

    def reserve(self, kind):
        """Block further requests of this type until make_csr has run: call it when answering Accepted,
        so a second trigger arriving before the CSR is built is refused. release() undoes it."""
        self._busy.add(_slot(kind))

    def release(self, kind):
        """The reservation is void (the answer never reached the CSMS, or the CSR could not be built)."""
        self._busy.discard(_slot(kind))

    def cancel(self, kind):
        """Forget the waiting request (its key is lost: a late CertificateSigned for it is then rejected)."""
        slot = _slot(kind)
        self._busy.discard(slot)
        self._asked.pop(slot, None)
        self.store.remove(slot + ".pend")

    async def _drive(self, gen):
        r = None
        i = 0
        for x in gen:
            r = x
            i += 1
            if i % self.every == 0:
                await asyncio.sleep_ms(0)
        return r

    async def make_csr(self, kind, cn, org):
        """New key pair + PKCS#10 request; returns the PEM. The key is on flash before this returns,
        replacing any earlier waiting request of this type. ValueError for a bad kind or subject."""
        slot = _slot(kind)
        csr.name(cn, org)  # fail before the expensive part
        self._busy.add(slot)
        try:
            t0 = clock.now()
            d = p256.new_key()
            pub = await self._drive(p256.public(d))
            pem = csr.pem(await self._drive(csr.build(d, pub, cn, org)))
            self._save(slot + ".pend", d, pub, t0, pem)
            self._asked[slot] = clock.mono()
        finally:
            self._busy.discard(slot)
        log.info("certs", "CSR for %s built (CN=%s, O=%s)", kind or "combined", cn, org)
        return pem

    def install(self, kind, chain):
        """Handle CertificateSigned: kind is its certificateType (None when omitted), chain the PEM chain,
        leaf first. Returns (ACCEPTED, None) or (REJECTED, reasonCode). Never raises for bad input.
        Checked: the leaf parses, its public key is ours, it has not expired (when the clock is set).
        NOT checked: the CA chain's signatures (no X.509 path validation on the station)."""
        try:
            slots = [_slot(kind)]
        except ValueError:
            return REJECTED, "UnknownType"
        if kind is not None:
            slots.append("comb")  # a combined request may come back typed
        else:
            slots += ["cs", "v2g"]
        from station.certs import x509  # the reader loads only when a certificate arrives

        try:
            if not isinstance(chain, str) or len(chain) > _MAX_CHAIN:
                raise ValueError("not a chain")
            _, na, spki = x509.cert_fields(x509.unpem(chain)[0])
            x, y, par = x509.ec_point(spki)
        except Exception as e:  # untrusted input: anything malformed is a rejection, never a crash
            log.warn("certs", "CertificateSigned rejected: %r", e)
            return REJECTED, "InvalidCertificate"
        if clock.known() and na < x509.time_of(clock.rfc3339()):
            # Only expiry, and only once the clock is known (before, the board RTC may count from 2000);
            # notBefore is not checked: it often sits a little ahead of a station's clock.
            log.warn("certs", "CertificateSigned rejected: expired")
            return REJECTED, "CertificateExpired"
        waiting = False
        for slot in slots:
            for name in (slot + ".pend", slot + ".crt"):  # .crt: the same certificate sent again
                rec = self._load(name)
                if rec is None:
                    continue
                waiting = waiting or name.endswith(".pend")
                if rec["x"] == x and (rec["y"] == y if y is not None else (rec["y"] & 1) == par):
                    self._save(slot + ".crt", rec["d"], (rec["x"], rec["y"]), clock.now(), chain)
                    if name.endswith(".pend"):
                        self.store.remove(name)
                        self._asked.pop(slot, None)
                    log.info("certs", "certificate installed in slot %s", slot)
                    return ACCEPTED, None
        log.warn("certs", "CertificateSigned for a key we do not hold")
        return REJECTED, "KeyMismatch" if waiting else "NoPendingRequest"

    def certificate_signed(self, req):
        """CertificateSignedRequest payload -> CertificateSignedResponse payload."""
        st, reason = self.install(req.get("certificateType"), req["certificateChain"])
        resp = {"status": st}
        if reason:
            resp["statusInfo"] = {"reasonCode": reason}
        return resp
