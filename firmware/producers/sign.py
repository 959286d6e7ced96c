# SignCertificate for the three certificate triggers. The CSR (fresh EC P-256 key, built in certs/) takes
# long on a microcontroller, so it is built after the response, yielding to the event loop as it goes.
import asyncio
import gc

import log
from producers import ACCEPTED, NOT_IMPLEMENTED, REJECTED

ROOM = 1
_CS = "ChargingStationCertificate"
_V2G = "V2GCertificate"
_TRIES = 3  # CSR builds before giving up (a MemoryError while the heap is fragmented may pass on a retry)


def _subject(st, kind):
    # -> (certificate type or None for combined, CN)
    if kind == "SignV2GCertificate":
        return _V2G, st.dm.get("ISO15118Ctrlr", "SeccId")
    return (_CS if kind == "SignChargingStationCertificate" else None), st.serial


def prepare(st, kind, evse):
    v2g_on = st.dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled")
    if kind == "SignCombinedCertificate" and not v2g_on:
        return NOT_IMPLEMENTED, None, None  # TC_F_27: combined needs ISO 15118 support
    if kind == "SignV2GCertificate" and not v2g_on:
        return REJECTED, "V2GDisabled", None
    ctype, cn = _subject(st, kind)
    org = st.dm.get("SecurityCtrlr", "OrganizationName")
    # MissingIdentity: serial/SECC id or organisation unset; CsrPending: one is being built, or was sent
    # less than CertSigningWaitMinimum ago and may still be signed.
    ok, reason = st.keys.can_request(ctype, cn, org, st.dm.get("SecurityCtrlr", "CertSigningWaitMinimum"))
    if not ok:
        return REJECTED, reason, None
    st.keys.reserve(ctype)  # a second trigger before the CSR is built is refused, not doubled

    async def job(st):
        pem = None
        for i in range(_TRIES):
            try:
                pem = await st.keys.make_csr(ctype, cn, org)
                break
            except MemoryError:
                gc.collect()
                log.warn("trigger", "CSR build %d/%d out of memory", i + 1, _TRIES)
                st.keys.reserve(ctype)  # still ours while we retry
                await asyncio.sleep_ms(200 * (i + 1))
            except Exception as e:
                log.exc("trigger", e, "CSR build")
                break
        if pem is None:  # nothing to send: give the places back so a later trigger can try again
            log.error("trigger", "SignCertificate (%s) not sent: the CSR could not be built", ctype or "combined")
            st.keys.release(ctype)
            st.outbox.release(1)
            return
        p = {"csr": pem}
        if ctype:  # no enum value exists for combined: certificateType is left out
            p["certificateType"] = ctype
        st.outbox.put("SignCertificate", p, triggered=True, key="Sign" + (ctype or "Combined"),
                      on_result=lambda res: _answered(st, ctype, res), reserved=True)

    return ACCEPTED, None, job


def undo(st, kind):
    st.keys.release(_subject(st, kind)[0])


def _answered(st, ctype, res):
    # A CSMS that refuses to sign will never send CertificateSigned: do not block the next request.
    if not res or res.get("status") != "Accepted":
        st.keys.cancel(ctype)
