# SignCertificate for the three certificate triggers. The CSR (fresh EC P-256 key, built in certs/) takes
# long on a microcontroller, so it is built after the response, yielding to the event loop as it goes.
from producers import ACCEPTED, NOT_IMPLEMENTED, REJECTED

_CS = "ChargingStationCertificate"
_V2G = "V2GCertificate"


def prepare(st, kind, evse):
    v2g_on = st.dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled")
    if kind == "SignCombinedCertificate" and not v2g_on:
        return NOT_IMPLEMENTED, None, None  # TC_F_27: combined needs ISO 15118 support
    if kind == "SignV2GCertificate":
        if not v2g_on:
            return REJECTED, "V2GDisabled", None
        ctype, cn = _V2G, st.dm.get("ISO15118Ctrlr", "SeccId")
    else:
        ctype, cn = (_CS if kind == "SignChargingStationCertificate" else None), st.serial
    org = st.dm.get("SecurityCtrlr", "OrganizationName")
    # MissingIdentity: serial/SECC id or organisation unset; CsrPending: one still awaits CertificateSigned.
    ok, reason = st.keys.can_request(ctype, cn, org)
    if not ok:
        return REJECTED, reason, None
    st.keys.reserve(ctype)  # a second trigger before the CSR is built is refused, not doubled

    async def job(st):
        pem = await st.keys.make_csr(ctype, cn, org)
        p = {"csr": pem}
        if ctype:  # no enum value exists for combined: certificateType is left out
            p["certificateType"] = ctype
        st.outbox.put("SignCertificate", p, triggered=True, key="Sign" + (ctype or "Combined"),
                      on_result=lambda res: _answered(st, ctype, res))

    return ACCEPTED, None, job


def _answered(st, ctype, res):
    # A CSMS that refuses to sign will never send CertificateSigned: do not block the next request.
    if not res or res.get("status") != "Accepted":
        st.keys.cancel(ctype)
