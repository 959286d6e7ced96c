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

Signatures and chains (imported only when a certificate message arrives; every generator yields None while
it works, its last value is the result; malformed input is a ValueError, never another exception):

    from station.certs import verify, x509
    c = x509.parse(der)                          # Cert: der, tbs, serial, issuer, subject, nb, na, spki, key,
                                                 #   alg, params, sig, ca, path_len, key_usage, san_dns, crit
    x509.attr(c.subject, der.OID_CN)             # str or None
    x509.hash_data(c, issuer)                    # OCPP CertificateHashDataType (SHA256), issuer=c for a root
    x509.time_of(clock.rfc3339())                # b"YYYYMMDDHHMMSS", compares with c.nb / c.na
    verify.digest(spki, h, sig)                  # gen -> bool: ECDSA P-256 or RSA (PSS / v1.5) over SHA-256 h
    verify.signed_by(c, issuer)                  # gen -> bool
    verify.chain(certs, anchors, now)            # gen -> None or "Expired" | "NotYetValid" | "NotCA" |
                                                 #   "PathLength" | "BadSignature" | "NoTrustAnchor" |
                                                 #   "Unsupported" | "ChainLength"

Lower layers: p256 (curve, ECDSA-SHA256 signing with RFC 6979 nonces, as generators that yield per bit),
ecdsa (verification, a generator too, DER signatures, point decompression; also as p256.verify ...), rsa
(RSA 2048..4096 PSS / PKCS#1 v1.5 verification), der (DER encoder, OIDs), csr (PKCS#10 build, PEM out),
x509 (bounds-checked PEM/DER reader; the full certificate reader is cert, with exts for extensions and names
for Names and hash data, all loaded on first use through x509). Only SHA-256: MicroPython's hashlib on the
ESP32 has no SHA-384.
Flash files: <slot>.pend / <slot>.crt in the given Store. An optional package: a board that leaves it out
answers the certificate triggers NotImplemented.
Needs 3-argument pow (Unix and ESP32 ports have it); pow(x, -1, m) is avoided: MicroPython returns 0.
"""

ROOTS = "cmov"  # file-name letters of the installed CA types (certs/roots.py), so counting needs no parser


def installed(store):
    """File names of the installed CA certificates in the certificate store (certs/roots.py)."""
    out = [n for n in store.names() if len(n) == 3 and n[0] in ROOTS and n[1:].isdigit()]
    out.sort()
    return out
