# SignCertificate for the three certificate triggers. The CSR (fresh EC P-256 key, built in certs/) takes
# long on a microcontroller, so it is built after the response, yielding to the event loop as it goes.
# Without the certs package on the board, importing this module fails: the kinds are NotImplemented.
import asyncio
import gc

from station import log
from station.certs import keystore  # noqa: F401 - fails here, not later, on a board without certificates
from station.trigger import ACCEPTED, NOT_IMPLEMENTED, REJECTED, Call

_CS = "ChargingStationCertificate"
_V2G = "V2GCertificate"
_TRIES = 3  # CSR builds before giving up (a MemoryError while the heap is fragmented may pass on a retry)


class Csr(Call):
    def __init__(self, ctype, cn, org):
        super().__init__("SignCertificate", None, "Sign" + (ctype or "Combined"))
        self.ctype = ctype
        self.cn = cn
        self.org = org

    async def send(self, v):
        pem = None
        for i in range(_TRIES):
            try:
                pem = await v.keys.make_csr(self.ctype, self.cn, self.org)
                break
            except MemoryError:
                gc.collect()
                log.warn("trigger", "CSR build %d/%d out of memory", i + 1, _TRIES)
                v.keys.reserve(self.ctype)  # still ours while we retry
                await asyncio.sleep_ms(200 * (i + 1))
            except Exception as e:
                log.exc("trigger", e, "CSR build")
                break
        if pem is None:  # nothing to send: give the places back so a later trigger can try again
            log.error("trigger", "SignCertificate (%s) not sent: the CSR could not be built", self.ctype or "combined")
            v.keys.release(self.ctype)
            v.outbox.release(1)
            return
        p = {"csr": pem}
        if self.ctype:  # no enum value exists for combined: certificateType is left out
            p["certificateType"] = self.ctype
        ctype = self.ctype
        v.outbox.put("SignCertificate", p, triggered=True, key=self.key,
                     on_result=lambda res: _answered(v, ctype, res), reserved=True)

    def undo(self, v):
        v.keys.release(self.ctype)


def prepare(v, kind, evse):
    v2g_on = v.dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled")
    if kind == "SignCombinedCertificate" and not v2g_on:
        return NOT_IMPLEMENTED, None, None  # TC_F_27: combined needs ISO 15118 support
    if kind == "SignV2GCertificate":
        if not v2g_on:
            return REJECTED, "V2GDisabled", None
        ctype, cn = _V2G, v.dm.get("ISO15118Ctrlr", "SeccId")
    else:
        ctype, cn = (_CS if kind == "SignChargingStationCertificate" else None), v.serial
    org = v.dm.get("SecurityCtrlr", "OrganizationName")
    # MissingIdentity: serial/SECC id or organisation unset; CsrPending: one is being built right now (it
    # is the message this trigger asks for). One already sent does not block: F06.FR.10.
    ok, reason = v.keys.can_request(ctype, cn, org)
    if not ok:
        return REJECTED, reason, None
    v.keys.reserve(ctype)  # a second trigger before the CSR is built is refused, not doubled
    return ACCEPTED, None, [Csr(ctype, cn, org)]


def _answered(v, ctype, res):
    if res and res.get("status") == "Accepted":  # resend it until signed (A02.FR.17-19)
        dm = v.dm
        v.keys.backoff(ctype, dm.get("SecurityCtrlr", "CertSigningWaitMinimum"),
                       dm.get("SecurityCtrlr", "CertSigningRepeatTimes"))
    else:  # a CSMS that refuses to sign will never send CertificateSigned for it
        v.keys.cancel(ctype)


def resend(v, ctype):
    """The same CSR again (same key, so a certificate for any of the copies fits: TC_A_23), not triggered:
    it waits for an Accepted registration like any spontaneous message."""
    p = v.keys.pending(ctype)
    if p is None:  # signed or cancelled meanwhile
        v.keys.stop(ctype)
        return
    log.info("trigger", "SignCertificate (%s) resent: no certificate yet", ctype or "combined")
    pl = {"csr": p["csr"]}
    if ctype:
        pl["certificateType"] = ctype
    v.outbox.put("SignCertificate", pl, key="Resend" + (ctype or "Combined"),
                 on_result=lambda res: _resent(v, ctype, res))


def _resent(v, ctype, res):
    if res and res.get("status") != "Accepted":
        v.keys.stop(ctype)  # refused now: keep the key for a late certificate, stop asking
