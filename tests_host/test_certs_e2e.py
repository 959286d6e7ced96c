"""Certificates end to end (M03-M05, A02, TC_A_23) against the `ocpp` package CSMS, with CPython's
`cryptography` as the independent CA and as the reference for certificateHashData (its OCSP CertID)."""

import datetime
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from boards.host.sim.simctl import sent_after, trigger
from tools.csms.dev import CSMS

ORG = "Acme Charging"
SN = "SN-4711"
PEM = serialization.Encoding.PEM
CS = "ChargingStationCertificate"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key_pub, issuer_name, issuer_key, ca=True, start=-1, days=30, serial=None, dns=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key_pub)
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(_now() + datetime.timedelta(days=start))
         .not_valid_after(_now() + datetime.timedelta(days=start + days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _root(cn, kind="ec", **kw):
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    return key, _cert(_name(cn), key.public_key(), _name(cn), key, **kw)


def _pem(*certs):
    return "".join(c.public_bytes(PEM).decode() for c in certs)


def _hash(cert, issuer):
    # What M03 must report: OCSP's CertID over the same certificate, by an independent implementation.
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": "%x" % req.serial_number}


def _install(csms, sid, ctype, pem):
    return csms.call(sid, "InstallCertificate", {"certificateType": ctype, "certificate": pem})


def _ids(csms, sid, types=None):
    return csms.call(sid, "GetInstalledCertificateIds", {"certificateType": types} if types else {})


def _entries(csms, sid):
    r = csms.call(sid, "GetVariables", {"getVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "CertificateEntries"}}]})
    return r["getVariableResult"][0]["attributeValue"]


def _status(r):
    return r["status"], r.get("statusInfo", {}).get("reasonCode")


def test_tc_m_install_list_and_delete_ca_certificates(stations):
    with CSMS(interval=300) as csms:
        stations(csms, "CS-M", extra=["--serial", SN, "--org", ORG])
        csms.wait_for("StatusNotification")
        _, csms_root = _root("CSMS Root")
        _, mf_root = _root("Manufacturer Root", "rsa", serial=0x1234)  # short: room for leading zeros
        assert _status(_ids(csms, "CS-M")) == ("NotFound", None)  # M03.FR.02
        assert _entries(csms, "CS-M") == "0"
        assert _install(csms, "CS-M", "CSMSRootCertificate", _pem(csms_root)) == {"status": "Accepted"}
        assert _install(csms, "CS-M", "CSMSRootCertificate", _pem(csms_root)) == {"status": "Accepted"}  # FR.17
        assert _install(csms, "CS-M", "ManufacturerRootCertificate", _pem(mf_root)) == {"status": "Accepted"}
        r = _ids(csms, "CS-M")
        assert r["status"] == "Accepted"
        got = sorted((e["certificateType"], tuple(sorted(e["certificateHashData"].items())))
                     for e in r["certificateHashDataChain"])
        want = sorted((t, tuple(sorted(_hash(c, c).items())))
                      for t, c in (("CSMSRootCertificate", csms_root), ("ManufacturerRootCertificate", mf_root)))
        assert got == want  # replaced, not doubled; hash data exactly as OCSP computes it
        r = _ids(csms, "CS-M", ["ManufacturerRootCertificate"])
        assert [e["certificateType"] for e in r["certificateHashDataChain"]] == ["ManufacturerRootCertificate"]
        assert _status(_ids(csms, "CS-M", ["V2GRootCertificate"])) == ("NotFound", None)
        assert _entries(csms, "CS-M") == "2"

        # M05.FR.07 / TC_M_07: invalid certificates are Rejected, nothing stored
        ca_key, _ = _root("x")
        leaf = _cert(_name("leaf"), ec.generate_private_key(ec.SECP256R1()).public_key(), csms_root.subject,
                     ca_key, ca=False)
        _, expired = _root("Old Root", start=-60, days=30)
        _, future = _root("Future Root", start=2)
        for bad in (_pem(leaf), _pem(expired), _pem(future), "garbage",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", _pem(csms_root, mf_root)):
            assert _status(_install(csms, "CS-M", "MORootCertificate", bad)) == ("Rejected", "InvalidCertificate")
        assert _entries(csms, "CS-M") == "2"

        # M04: by the hash M03 gave, case and leading zeros of the serial not mattering
        h = _hash(mf_root, mf_root)
        loud = dict(h, issuerNameHash=h["issuerNameHash"].upper(), serialNumber="00" + h["serialNumber"])
        assert csms.call("CS-M", "DeleteCertificate", {"certificateHashData": loud}) == {"status": "Accepted"}
        assert _status(csms.call("CS-M", "DeleteCertificate", {"certificateHashData": h})) == ("NotFound", None)
        sha384 = dict(h, hashAlgorithm="SHA384")
        assert csms.call("CS-M", "DeleteCertificate", {"certificateHashData": sha384})["status"] == "NotFound"
        assert [e["certificateType"] for e in _ids(csms, "CS-M")["certificateHashDataChain"]] == [
            "CSMSRootCertificate"]

        # M05.FR.06: the bound (10 on the host board) holds
        for i in range(9):
            assert _install(csms, "CS-M", "MORootCertificate", _pem(_root("MO %d" % i)[1]))["status"] == "Accepted"
        r = _install(csms, "CS-M", "MORootCertificate", _pem(_root("MO 10")[1]))
        assert _status(r) == ("Rejected", "TooManyCertificates")
        assert _entries(csms, "CS-M") == "10"
        assert not csms.errors(), csms.errors()


def _csr(csms, sid):
    res, i = trigger(csms, sid, "SignChargingStationCertificate")
    assert res == {"status": "Accepted"}
    return x509.load_pem_x509_csr(sent_after(csms, i, "SignCertificate")[0].payload["csr"].encode()), i


def _signed(csms, sid, chain):
    return _status(csms.call(sid, "CertificateSigned", {"certificateChain": chain, "certificateType": CS}))


def test_tc_a_11_certificate_signed_must_chain_to_an_installed_csms_root(stations):
    with CSMS(interval=300) as csms:
        stations(csms, "CS-A", extra=["--serial", SN, "--org", ORG])
        csms.wait_for("StatusNotification")
        root_key, root = _root("CSMS Root")
        sub_key = ec.generate_private_key(ec.SECP256R1())
        sub = _cert(_name("CSMS Sub-CA"), sub_key.public_key(), root.subject, root_key)
        csr, _ = _csr(csms, "CS-A")
        key = csr.public_key()

        def leaf(subject=csr.subject, issuer=sub, ikey=sub_key, pub=key, **kw):
            return _cert(subject, pub, issuer.subject, ikey, ca=False, **kw)

        # before the root is installed nothing chains to it
        assert _signed(csms, "CS-A", _pem(leaf(), sub)) == ("Rejected", "InvalidChain")
        assert _install(csms, "CS-A", "CSMSRootCertificate", _pem(root)) == {"status": "Accepted"}
        other_key, other = _root("Someone Else's Root")
        assert _signed(csms, "CS-A", _pem(leaf(issuer=other, ikey=other_key))) == ("Rejected", "InvalidChain")
        assert _signed(csms, "CS-A", _pem(leaf(subject=_name(SN, "Other Org")), sub)) == (
            "Rejected", "SubjectMismatch")
        assert _signed(csms, "CS-A", _pem(leaf(subject=_name("SN-9", ORG)), sub)) == ("Rejected", "SubjectMismatch")
        assert _signed(csms, "CS-A", _pem(leaf(dns="cs.example.com"), sub)) == ("Rejected", "SubjectMismatch")
        assert _signed(csms, "CS-A", _pem(leaf(start=1), sub)) == ("Rejected", "NotYetValid")  # errata 2025-01
        assert _signed(csms, "CS-A", _pem(leaf(start=-10, days=5), sub)) == ("Rejected", "CertificateExpired")
        not_ca = _cert(_name("Not a CA"), sub_key.public_key(), root.subject, root_key, ca=False)
        assert _signed(csms, "CS-A", _pem(leaf(issuer=not_ca), not_ca)) == ("Rejected", "InvalidChain")
        stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
        assert _signed(csms, "CS-A", _pem(leaf(pub=stranger), sub)) == ("Rejected", "KeyMismatch")
        # A02.FR.07: every rejection is reported as a security event
        rejected = 9
        events = csms.wait_for("SecurityEventNotification", rejected + 1)  # and the boot's own
        assert events[0].payload["type"] == "StartupOfTheDevice"
        assert {e.payload["type"] for e in events[1:]} == {"InvalidChargingStationCertificate"}
        good = leaf()
        assert _signed(csms, "CS-A", _pem(good, sub)) == ("Accepted", None)
        assert _signed(csms, "CS-A", _pem(good, sub, root)) == ("Accepted", None)  # root included: fine too
        # TC_M_23 / M04.FR.06: the station's own certificate is not deleted
        r = csms.call("CS-A", "DeleteCertificate", {"certificateHashData": _hash(good, sub)})
        assert _status(r) == ("Failed", "OwnCertificate")
        assert len(csms.messages("SecurityEventNotification")) == rejected + 1
        assert not csms.errors(), csms.errors()


def test_tc_a_23_unsigned_csr_is_resent_after_w_then_2w_and_a_late_certificate_fits(stations):
    w = 2
    with CSMS(interval=300) as csms:
        stations(csms, "CS-R", extra=["--serial", SN, "--org", ORG],
                 dm={"SecurityCtrlr.CertSigningWaitMinimum": w, "SecurityCtrlr.CertSigningRepeatTimes": 1})
        csms.wait_for("StatusNotification")
        root_key, root = _root("CSMS Root")
        assert _install(csms, "CS-R", "CSMSRootCertificate", _pem(root)) == {"status": "Accepted"}
        csr, i = _csr(csms, "CS-R")  # the CSMS answers Accepted and signs nothing
        sent = sent_after(csms, i, "SignCertificate", 3, timeout=30)
        assert len({m.payload["csr"] for m in sent}) == 1  # the same CSR each time: any answer fits
        t = [m.t for m in sent]
        assert t[1] - t[0] >= w - 0.5 and t[2] - t[1] >= 2 * w - 0.5  # W, then 2W (A02.FR.18)
        # one doubling (RepeatTimes 1) reached: no fourth one, though a fourth would be due after 4W
        time.sleep(4 * w + 2)
        assert len(csms.messages("SignCertificate")) == 3
        leaf = _cert(csr.subject, csr.public_key(), root.subject, root_key, ca=False)
        assert _signed(csms, "CS-R", _pem(leaf)) == ("Accepted", None)
        assert not csms.errors(), csms.errors()


def _pki(d):
    """A CA the CSMS trusts for client certificates and the station for the server, the server's certificate
    for localhost, and the client certificate the station was provisioned with (DER files)."""
    ca_key, ca = _root("Operator CA")
    skey = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
              .public_key(skey.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(_now() - datetime.timedelta(days=1))
              .not_valid_after(_now() + datetime.timedelta(days=9))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    ckey = ec.generate_private_key(ec.SECP256R1())
    client = _cert(_name(SN, ORG), ckey.public_key(), ca.subject, ca_key, ca=False)
    (d / "ca.pem").write_bytes(ca.public_bytes(PEM))
    (d / "server.pem").write_bytes(server.public_bytes(PEM))
    (d / "server.key").write_bytes(skey.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    (d / "client.der").write_bytes(client.public_bytes(serialization.Encoding.DER))
    (d / "client.key").write_bytes(ckey.private_bytes(serialization.Encoding.DER,
                                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                                      serialization.NoEncryption()))
    return ca_key, ca, client


def test_security_profile_3_reconnects_with_the_renewed_certificate_and_falls_back(tmp_path):
    import ssl

    from boards.host.sim.simctl import Station

    ca_key, ca, client = _pki(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    ctx.verify_mode = ssl.CERT_REQUIRED  # TLS client authentication: no certificate, no connection
    ctx.load_verify_locations(tmp_path / "ca.pem")
    with CSMS(interval=300, ssl=ctx) as csms:
        fast = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0}
        fast["SecurityCtrlr.SecurityProfile"] = 3
        st = Station("wss://localhost:%d/ocpp" % csms.port, "CS-SP3", dm=fast,
                     extra=["--serial", SN, "--org", ORG, "--ca", str(tmp_path / "ca.pem"),
                            "--client-cert", str(tmp_path / "client.der"),
                            "--client-key", str(tmp_path / "client.key")])
        try:
            csms.wait_for("StatusNotification")
            der = serialization.Encoding.DER
            assert [c for s, c in csms.client_certs] == [client.public_bytes(der)]  # the provisioned one
            csr, _ = _csr(csms, "CS-SP3")
            new = _cert(csr.subject, csr.public_key(), ca.subject, ca_key, ca=False)
            assert _signed(csms, "CS-SP3", _pem(new)) == ("Accepted", None)
            # A02.FR.08 (errata): Accepted, then the station reconnects presenting the new certificate
            csms.wait(lambda log: len(csms.client_certs) >= 2, timeout=30)
            assert csms.client_certs[1][1] == new.public_bytes(der)
            csms.wait_connected("CS-SP3")
            # A renewal the CSMS's TLS does not trust (signed under a root installed on the station only):
            # the station cannot connect with it, takes the previous one back (A02.FR.28) and says so (FR.29)
            other_key, other = _root("Installed-only Root")
            assert _install(csms, "CS-SP3", "CSMSRootCertificate", _pem(other)) == {"status": "Accepted"}
            csr2, _ = _csr(csms, "CS-SP3")
            bad = _cert(csr2.subject, csr2.public_key(), other.subject, other_key, ca=False)
            n = len(csms.client_certs)
            assert _signed(csms, "CS-SP3", _pem(bad)) == ("Accepted", None)
            csms.wait(lambda log: any(m.payload["type"] == "DiscardedRenewedClientCertificate"
                                      for m in csms.messages("SecurityEventNotification")), timeout=90)
            kinds = [m.payload["type"] for m in csms.messages("SecurityEventNotification")]
            # the switch to each renewed certificate is a reconfiguration (A04); the fallback is reported
            assert kinds.count("ReconfigurationOfSecurityParameters") == 2, kinds
            assert csms.client_certs[-1][1] == new.public_bytes(der)  # back on the previous certificate
            assert len(csms.client_certs) > n
            st.wait_log("connected to")
        finally:
            st.stop()
        assert not csms.errors(), csms.errors()
        assert not [p for p in st.problems() if "connect to" not in p], st.problems()
