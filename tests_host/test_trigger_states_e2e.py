"""TriggerMessage in the registration states (spec digest §4) and the certificate triggers, end to end
against the `ocpp` package CSMS; the CSR is checked by CPython's `cryptography`."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from boards.host.sim.simctl import Station, between, sent_after, trigger
from tools.csms.dev import CSMS, CallError


@pytest.fixture
def run_station():
    started = []

    def start(csms, sid, **kw):
        st = Station(csms.url + "/ocpp", sid, **kw)
        started.append((csms, st))
        return st

    yield start
    for csms, st in started:
        st.stop()
        assert not csms.errors(), csms.errors()
        assert not st.problems(), "\n".join(st.problems())


def test_tc_b_02_pending_lets_triggered_messages_through(run_station):
    with CSMS(boot=["Pending", "Accepted"], interval=120) as csms:
        st = run_station(csms, "CS-PEND", evses=2)
        st.wait_log("BootNotification Pending")
        st.cmd(cmd="plug", evse=2)  # a spontaneous StatusNotification: must wait for Accepted
        st.wait_log("connector: evse 2: Occupied")  # noticed, and its StatusNotification queued
        res, i = trigger(csms, "CS-PEND", "Heartbeat")
        assert res["status"] == "Accepted"
        # B02.FR.02: triggered messages may go while Pending. The outbox sends in order: had the gate let the
        # plug-in's StatusNotification through, it would have gone before this Heartbeat
        hb = sent_after(csms, i, "Heartbeat")[0]
        assert not between(csms, 0, csms.log.index(hb), "StatusNotification")
        res, i = trigger(csms, "CS-PEND", "StatusNotification", {"id": 1, "connectorId": 1})
        assert res["status"] == "Accepted"
        assert sent_after(csms, i, "StatusNotification")[0].payload["evseId"] == 1
        assert [m.payload["evseId"] for m in csms.messages("StatusNotification")] == [1]  # not the plug-in
        # B02.FR.04 / TC_B_02: a triggered BootNotification goes before the interval, reason Triggered
        res, i = trigger(csms, "CS-PEND", "BootNotification")
        assert res["status"] == "Accepted"
        boot = sent_after(csms, i, "BootNotification")[0]
        assert boot.payload["reason"] == "Triggered"
        # answered Accepted: now the state of every connector (B01.FR.05), EVSE 2 Occupied
        msgs = sent_after(csms, csms.log.index(boot), "StatusNotification", 2)
        assert {m.payload["evseId"]: m.payload["connectorStatus"] for m in msgs} == {1: "Available", 2: "Occupied"}
        res, i = trigger(csms, "CS-PEND", "BootNotification")  # TC_F_26
        assert res["status"] == "Rejected"


def test_rejected_answers_security_error_except_triggered_boot(run_station):
    with CSMS(boot=["Rejected", "Accepted"], interval=120) as csms:
        st = run_station(csms, "CS-REJ")
        st.wait_log("BootNotification Rejected")
        get = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        for action, payload in (("TriggerMessage", {"requestedMessage": "Heartbeat"}),
                                ("GetVariables", {"getVariableData": [get]})):
            with pytest.raises(CallError) as e:
                csms.call("CS-REJ", action, payload)
            assert e.value.code == "SecurityError"  # B03.FR.08
        st.cmd(cmd="plug", evse=1)
        res, i = trigger(csms, "CS-REJ", "BootNotification")  # TC_B_31 practice
        assert res["status"] == "Accepted"
        assert sent_after(csms, i, "BootNotification")[0].payload["reason"] == "Triggered"
        sn = sent_after(csms, i, "StatusNotification")[0]  # after Accepted, never during Rejected
        boots = csms.messages("BootNotification")
        assert csms.log.index(sn) > csms.log.index(boots[-1])


def _ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CSMS CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, cert


def _sign(ca_key, ca_cert, subject, public_key):
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=10)).sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (cert.public_bytes(pem) + ca_cert.public_bytes(pem)).decode()


def test_tc_a_11_sign_charging_station_certificate(run_station):
    with CSMS(interval=300) as csms:
        run_station(csms, "CS-CERT", extra=["--serial", "SN-4711", "--org", "Acme Charging"])
        csms.wait_for("StatusNotification")
        res, i = trigger(csms, "CS-CERT", "SignChargingStationCertificate")
        assert res == {"status": "Accepted"}
        p = sent_after(csms, i, "SignCertificate")[0].payload
        assert p["certificateType"] == "ChargingStationCertificate"
        pem = p["csr"]
        assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----\n") and pem.rstrip().endswith(
            "-----END CERTIFICATE REQUEST-----")
        assert all(len(ln) <= 64 for ln in pem.splitlines())
        csr = x509.load_pem_x509_csr(pem.encode())
        assert csr.is_signature_valid
        assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
        assert csr.public_key().curve.name == "secp256r1"
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-4711"
        assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme Charging"
        # F06.FR.10: a trigger while the first still waits gets its own SignCertificateRequest, a fresh key
        # (A02.FR.02); what CertificateSigned must deliver is tested in test_certs_e2e.py
        res, i = trigger(csms, "CS-CERT", "SignChargingStationCertificate")
        assert res == {"status": "Accepted"}
        csr2 = x509.load_pem_x509_csr(sent_after(csms, i, "SignCertificate")[0].payload["csr"].encode())
        assert csr2.public_key().public_numbers() != csr.public_key().public_numbers()


def test_v2g_certificates_follow_the_device_model(run_station):
    with CSMS(interval=300) as csms:
        run_station(csms, "CS-V2G")
        csms.wait_for("StatusNotification")
        res, _ = trigger(csms, "CS-V2G", "SignV2GCertificate")
        assert res == {"status": "Rejected", "statusInfo": {"reasonCode": "V2GDisabled"}}
        r = csms.call("CS-V2G", "SetVariables", {"setVariableData": [
            {"component": {"name": "ISO15118Ctrlr"}, "variable": {"name": "V2GCertificateInstallationEnabled"},
             "attributeValue": "true"},
            {"component": {"name": "ISO15118Ctrlr"}, "variable": {"name": "SeccId"}, "attributeValue": "SECC-1"}]})
        assert [x["attributeStatus"] for x in r["setVariableResult"]] == ["Accepted", "Accepted"]
        res, i = trigger(csms, "CS-V2G", "SignV2GCertificate")
        assert res == {"status": "Accepted"}
        p = sent_after(csms, i, "SignCertificate")[0].payload
        assert p["certificateType"] == "V2GCertificate"
        csr = x509.load_pem_x509_csr(p["csr"].encode())
        assert csr.is_signature_valid
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SECC-1"
        res, i = trigger(csms, "CS-V2G", "SignCombinedCertificate")
        assert res == {"status": "Accepted"}
        p = sent_after(csms, i, "SignCertificate")[0].payload
        assert "certificateType" not in p and x509.load_pem_x509_csr(p["csr"].encode()).is_signature_valid
