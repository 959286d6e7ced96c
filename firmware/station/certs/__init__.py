"""Station certificates in pure MicroPython: EC P-256 keys, PKCS#10 CSRs, CertificateSigned.

API (kind = "ChargingStationCertificate" | "V2GCertificate" | None for combined / type omitted):

    from station.certs.keystore import Keystore, ACCEPTED, REJECTED
    ks = Keystore(store)                         # station.store.Store, e.g. store.sub("certs")
    ok, reason = ks.can_request(kind, cn, org, max_wait)  # sync: identity set, no CSR being built or sent
                                                 #   less than max_wait s ago in this boot -> (True, None),
                                                 #   else (False, "MissingIdentity" | "CsrPending")
    ks.reserve(kind), ks.release(kind)           # when answering Accepted: refuse a second trigger
                                                 #   meanwhile / the answer never reached the CSMS
    pem = await ks.make_csr(kind, cn, org)       # new key (on flash before return) + CSR PEM, marks pending;
                                                 #   yields to the event loop every `ks.every` bits
    status, reason = ks.install(kind, chain_pem) # CertificateSigned: ("Accepted", None) or ("Rejected",
                                                 #   "InvalidCertificate" | "KeyMismatch" | "NoPendingRequest"
                                                 #   | "CertificateExpired" | "UnknownType"); never raises
    ks.pending(kind), ks.cancel(kind)            # the waiting request (dict, "t" = Unix time) / drop it
    ks.certificate_signed(req)                   # the CertificateSigned handler: response payload

Lower layers: p256 (curve, ECDSA-SHA256 with RFC 6979 nonces, as generators that yield per bit), der (DER
encoder), csr (PKCS#10 build, PEM out), x509 (bounds-checked PEM/DER reader for CertificateSigned, imported on
first use). Flash files: <slot>.pend / <slot>.crt in the given Store. An optional package: a board that
leaves it out answers the certificate triggers NotImplemented.
Needs 3-argument pow (Unix and ESP32 ports have it); pow(x, -1, m) is avoided: MicroPython returns 0.
"""

ROOTS = "cmov"  # file-name letters of the installed CA types (certs/roots.py), so counting needs no parser


def installed(store):
    """File names of the installed CA certificates in the certificate store (certs/roots.py)."""
    out = [n for n in store.names() if len(n) == 3 and n[0] in ROOTS and n[1:].isdigit()]
    out.sort()
    return out
