# Station key pairs and certificates on flash, one slot per certificate type:
#   <slot>.pend   the key of the CSR sent last, waiting for its CertificateSigned (never leaves the station)
#   <slot>.pend0  the one before it, so a certificate for it that arrives late still finds its key
#   <slot>.crt    the installed certificate chain with its key
#   <slot>.crt0   the one it replaced, kept until the new one has connected once (A02.FR.10/28)
# Each file is a line "<d hex> <x hex> <y hex> <unix time>" and then the PEM text (CSR or chain), written
# atomically by station.store, so a power cut leaves a whole file. Not JSON: a chain of up to 10 kB
# would be escaped and copied again, and heap without PSRAM is tight.
# What a certificate must be to be installed is checked by certs/signed.py; this module only keeps keys.
import asyncio
from station import clock
from station import log
from station.certs import csr, p256

CS = "ChargingStationCertificate"
V2G = "V2GCertificate"
ACCEPTED = "Accepted"
REJECTED = "Rejected"
_SLOTS = {CS: "cs", V2G: "v2g", None: "comb"}  # None: SignCombinedCertificate / type omitted
_KINDS = {"cs": CS, "v2g": V2G, "comb": None}


def _slot(kind):
    s = _SLOTS.get(kind)
    if s is None:
        raise ValueError("unknown certificate type %r" % (kind,))
    return s


def slots_for(kind):
    """The slots a CertificateSigned of this certificateType may answer: its own, and the combined one
    (a combined request may come back typed; an untyped answer may be for any)."""
    s = _slot(kind)
    return [s, "comb"] if kind is not None else [s, "cs", "v2g"]


class Keystore:
    def __init__(self, store, every=8):
        self.store = store
        self.every = every  # scalar-multiplication bits between event-loop yields
        self._busy = set()  # slots whose CSR is reserved or being built (not on flash yet)
        # slot -> [clock.mono() when due, wait s, resends left]: CSR resends (A02.FR.17-19), RAM only:
        # after a reboot the key waits on flash and the next trigger starts again
        self._retry = {}

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
            return None

    def _save(self, name, d, pub, t, pem):
        # A str, not bytes: MicroPython writes it to the binary file as UTF-8 without another copy.
        self.store.write(name, ("%064x %064x %064x %d\n" % (d, pub[0], pub[1], t), pem))

    def pending(self, kind):
        """The waiting request of this type: dict with "csr" (PEM) and "t" (clock.now() when built), or None."""
        return self._load(_slot(kind) + ".pend", "csr")

    def can_request(self, kind, cn, org):
        """(True, None) when a CSR of this type can be built now, else (False, reasonCode). A request
        already sent does not block a new one (F06.FR.10: a trigger gets its SignCertificateRequest; the
        new key replaces the waiting one, whose key is kept one generation back for a late answer)."""
        try:
            slot = _slot(kind)
            csr.name(cn, org)
        except ValueError:
            return False, "MissingIdentity"  # unset or over-long serial / organisation / SECC id
        if slot in self._busy:
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
        self._retry.pop(slot, None)
        self.store.remove(slot + ".pend")

    def backoff(self, kind, wait, times):
        """The CSMS accepted the CSR: resend it after wait s, then 2*wait, ... (times doublings, so
        times + 1 resends, TC_A_23), unless its certificate arrives first."""
        self._retry[_slot(kind)] = [clock.mono() + wait, wait, times + 1]

    def stop(self, kind):
        """No more resends for this type (a certificate arrived, valid or not: A02.FR.20)."""
        self._retry.pop(_slot(kind), None)

    def due(self):
        """Kinds whose pending CSR is to be resent now (each call advances their schedule); () when none."""
        if not self._retry:  # the usual case, every second: nothing built
            return ()
        out = []
        t = clock.mono()
        for slot in list(self._retry):
            r = self._retry[slot]
            if t >= r[0]:
                r[2] -= 1
                r[1] *= 2
                r[0] = t + r[1]
                if r[2] <= 0:
                    del self._retry[slot]
                out.append(_KINDS[slot])
        return out

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
            old = self.store.read(slot + ".pend")
            if old is not None:  # kept one generation back: the CSMS may still sign it
                self.store.write(slot + ".pend0", old)
            self._save(slot + ".pend", d, pub, t0, pem)
            self._retry.pop(slot, None)  # the new request gets its own back-off once accepted
        finally:
            self._busy.discard(slot)
        log.info("certs", "CSR for %s built (CN=%s, O=%s)", kind or "combined", cn, org)
        return pem

    def match(self, kind, x, y, parity):
        """(slot, file name, record) of the key (x, y) among the requests and certificates a CertificateSigned
        of this type may answer, or (None, waiting, None) with waiting True when a request is pending.
        y None: a compressed point, compare parity."""
        waiting = False
        for slot in slots_for(kind):
            for name in (slot + ".pend", slot + ".pend0", slot + ".crt"):  # .crt: the same certificate again
                rec = self._load(name)
                if rec is None:
                    continue
                waiting = waiting or ".pend" in name
                if rec["x"] == x and (rec["y"] == y if y is not None else (rec["y"] & 1) == parity):
                    return slot, name, rec
        return None, waiting, None

    def keep(self, slot, name, rec, chain):
        """Install a checked chain under the key it matched (see match). The certificate it replaces
        stays as <slot>.crt0 until the new one has connected (confirm) or failed to (revert)."""
        crt = slot + ".crt"
        if name != crt:
            old = self.store.read(crt)
            if old is not None:
                self.store.write(slot + ".crt0", old)
        self._save(crt, rec["d"], (rec["x"], rec["y"]), clock.now(), chain)
        self._retry.pop(slot, None)  # signed: no more resends of its request
        if name != crt:
            self.store.remove(name)
        log.info("certs", "certificate installed in slot %s", slot)

    def client(self, slot="cs"):
        """(leaf certificate DER, key DER) of the installed certificate in slot, for TLS client
        authentication, or None. The combined certificate stands in for a missing ChargingStationCertificate.
        Only the leaf: MicroPython's tls takes one DER certificate here (its mbedtls build parses no PEM),
        so the CSMS must know the CA that issued it (it signed it)."""
        for s in (slot, "comb"):
            rec = self._load(s + ".crt", "chain")
            if rec is not None:
                from station.certs import x509

                try:
                    leaf = x509.unpem(rec["chain"])[0]
                except ValueError as e:
                    log.warn("certs", "installed %s unusable: %r", s, e)
                    continue
                return leaf, csr.ec_key(rec["d"], rec["x"], rec["y"])
        return None

    def confirm(self, slot="cs"):
        """The new client certificate connected: the old one goes (A02.FR.10)."""
        self.store.remove(slot + ".crt0")

    def revert(self, slot="cs"):
        """The new client certificate could not connect: the previous one is back (A02.FR.28): the one it
        replaced, or, when it was the first, the one the board was provisioned with. False when the new one
        is not there any more."""
        old = self.store.read(slot + ".crt0")
        if old is None:
            if self.store.read(slot + ".crt") is None:
                return False
            self.store.remove(slot + ".crt")  # back to the board configuration's certificate
            return True
        self.store.write(slot + ".crt", old)
        self.store.remove(slot + ".crt0")
        return True
