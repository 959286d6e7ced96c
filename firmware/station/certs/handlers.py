# The CSMS's certificate CALLs: InstallCertificate (M05), GetInstalledCertificateIds (M03), DeleteCertificate
# (M04) and CertificateSigned (A02/A03). Built on first use by app.py, so a station that never sees a
# certificate message keeps this code out of RAM.
#
#   h = Handlers(keystore, store, dm, serial, security, ca=None, bound=10, on_client=None)
#   await h.certificate_signed(req) / h.install(req) / h.ids(req) / h.delete(req)   # -> response payloads
# ca: the configured CSMS CA (DER file), a trust anchor beside the installed CSMS roots. on_client(): a
# new ChargingStationCertificate was installed (security profile 3 reconnects with it).
from station import log
from station.certs import keystore, roots, signed

_TAG = "certs"


class Handlers:
    def __init__(self, ks, store, dm, serial, security, ca=None, bound=10, on_client=None):
        self.ks = ks
        self.roots = roots.Roots(store, bound)
        self._dm = dm
        self._serial = serial
        self._sec = security
        self._ca = ca
        self._on_client = on_client
        self.count()

    def count(self):
        # SecurityCtrlr.CertificateEntries reports how many CA certificates are installed.
        self._dm.show("SecurityCtrlr", "CertificateEntries", self.roots.count())

    def install(self, req):
        r = self.roots.install(req)
        self.count()
        return r

    def ids(self, req):
        chain = None
        if self._dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled"):
            chain = signed.installed_chain(self.ks, "v2g")
        return self.roots.ids(req, chain)

    def delete(self, req):
        r = self.roots.delete(req, self._own())
        self.count()
        return r

    def _own(self):
        # Hash data of the station's own leaf certificates (and of the old one kept as fallback).
        out = []
        for slot in ("cs", "v2g", "comb"):
            for name in (slot + ".crt", slot + ".crt0"):
                ch = signed.installed_chain(self.ks, slot, name)
                if ch:
                    iss = ch[1] if len(ch) > 1 else self.roots.issuer_of(ch[0])
                    from station.certs import x509

                    out.append(roots.norm(x509.hash_data(ch[0], iss)))
        return out

    async def certificate_signed(self, req):
        kind = req.get("certificateType")
        v2g = kind == keystore.V2G
        org = self._dm.get("SecurityCtrlr", "OrganizationName")
        cn = self._dm.get("ISO15118Ctrlr", "SeccId") if v2g else self._serial
        anchors = self.roots.anchors("V2GRootCertificate" if v2g else "CSMSRootCertificate")
        if not v2g and self._ca:
            anchors += signed.load_der(self._ca)
        try:
            self.ks.stop(kind)  # valid or not, no more CSR resends (A02.FR.20)
        except ValueError:
            pass
        st, reason = await signed.install(self.ks, kind, req["certificateChain"], anchors, org, cn,
                                          self._dm.get("SecurityCtrlr", "MaxCertificateChainSize"))
        resp = {"status": st}
        if reason:
            resp["statusInfo"] = {"reasonCode": reason}
            self._sec.event("InvalidChargingStationCertificate", reason)  # A02.FR.07
            return resp
        if kind == keystore.V2G or not self._on_client:
            return resp
        return resp, self._switch  # the switch (a reconnect) only once Accepted is on the wire

    def _switch(self, sent):
        if self._dm.get("SecurityCtrlr", "SecurityProfile") == 3:  # only then is the TLS identity changed
            self._sec.event("ReconfigurationOfSecurityParameters", "new ChargingStationCertificate: reconnecting")
        try:
            self._on_client()
        except Exception as e:
            log.exc(_TAG, e, "switching to the new certificate")
