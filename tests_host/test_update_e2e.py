"""Secure firmware update (L01) end to end: the real station (tools/sim.py, booting from its image slots) against
the `ocpp`-package CSMS, the image served by a CPython HTTP server in this test, signed by tools/build/sign_image.py
under a development manufacturer root the CSMS installs with InstallCertificate. TC_L_01/02/03/05/06/07/10/13/15/18,
TC_F_19 and the rollback of an image that raises at import. The download is the station's own HTTP client
(firmware/station/transport/http.py)."""

import datetime
import os
import shutil


from boards.host.sim.simctl import payloads, trigger
from tools import ROOT
from tools.build import image
from tools.build import sign_image as si
from tools.csms.dev import CSMS
from tools.csms.files import FileServer
from tools.csms.files import tls_context as files_tls

_CA = []


def ca():
    if not _CA:
        _CA.extend(si.manufacturer_ca())
    return _CA


def _iso(delta_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


_STATIONS = {}  # sid -> the running station: a status that does not come shows its log


def boot(stations, csms, sid, **kw):
    st = _STATIONS[sid] = stations(csms, sid, extra=("--version", "1.0.0"), **kw)
    csms.wait_for("StatusNotification", timeout=20)
    r = csms.call(sid, "InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                              "certificate": si.pem_of(ca()[1])})
    assert r["status"] == "Accepted", r
    return st


def update(csms, sid, url, data=None, rid=1, sig=None, cert=None, retrieve=-7200, install=None, **kw):
    fw = {"location": url, "retrieveDateTime": _iso(retrieve),
          "signingCertificate": si.pem_of(ca()[3]) if cert is None else cert}
    fw["signature"] = si.sign(data, ca()[2]) if sig is None else sig
    if not fw["signingCertificate"]:
        del fw["signingCertificate"]
    if not fw["signature"]:
        del fw["signature"]
    if install is not None:
        fw["installDateTime"] = _iso(install)
    return csms.call(sid, "UpdateFirmware", dict({"requestId": rid, "firmware": fw}, **kw))


def statuses(csms, sid, rid=None):
    return [p["status"] for p in payloads(csms, "FirmwareStatusNotification", sid)
            if rid is None or p.get("requestId") == rid]


def wait_status(csms, sid, status, timeout=60, rid=None, st=None):
    try:
        csms.wait(lambda log: status in statuses(csms, sid, rid), timeout)
    except TimeoutError:
        st = st or _STATIONS.get(sid)
        raise AssertionError("no %s; got %r; station log:\n%s" % (status, statuses(csms, sid, rid),
                                                                   "\n".join((st.lines if st else [])[-60:]))) from None
    return statuses(csms, sid, rid)


def events(csms, sid):
    return [p["type"] for p in payloads(csms, "SecurityEventNotification", sid)]


def versions(csms, sid):
    return [(b["reason"], b["chargingStation"].get("firmwareVersion")) for b in payloads(csms, "BootNotification", sid)]


def test_tc_l_01_update_boots_the_new_version(stations):
    new = image.build("host", "2.0.0")
    with CSMS(interval=300) as csms, FileServer() as files:
        boot(stations, csms, "CS-L01")
        files.files["/fw.img"] = new
        assert update(csms, "CS-L01", files.url("/fw.img"), new, rid=11) == {"status": "Accepted"}
        got = wait_status(csms, "CS-L01", "Installed", timeout=90)
        assert got == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed"]
        assert {p["requestId"] for p in payloads(csms, "FirmwareStatusNotification", "CS-L01")} == {11}
        assert versions(csms, "CS-L01") == [("PowerUp", "1.0.0"), ("FirmwareUpdate", "2.0.0")]
        r = csms.call("CS-L01", "GetVariables", {"getVariableData": [
            {"component": {"name": "ChargingStation"}, "variable": {"name": "FirmwareVersion"}}]})
        assert r["getVariableResult"][0]["attributeValue"] == "2.0.0"
        csms.wait(lambda log: "FirmwareUpdated" in events(csms, "CS-L01"), 20)
        r, _ = trigger(csms, "CS-L01", "FirmwareStatusNotification")  # L01.FR.25: Idle after Installed
        csms.wait(lambda log: statuses(csms, "CS-L01")[-1] == "Idle", 10)
        assert events(csms, "CS-L01").count("FirmwareUpdated") == 1


def _tls_server(tmp_path):
    # A CA and a server certificate for localhost; the station trusts the CA once installed as a CSMS root.
    return files_tls(tmp_path)


def test_tc_l_01_over_https_trusting_the_installed_csms_root(stations, tmp_path):
    new = image.build("host", "2.1.0")
    ctx, ca_pem = _tls_server(tmp_path)
    with CSMS(interval=300) as csms, FileServer(ssl=ctx, name="localhost") as files:
        boot(stations, csms, "CS-L01S")
        r = csms.call("CS-L01S", "InstallCertificate",
                      {"certificateType": "CSMSRootCertificate", "certificate": ca_pem})
        assert r["status"] == "Accepted", r
        files.files["/fw.img"] = new
        assert update(csms, "CS-L01S", files.url("/fw.img"), new, rid=12) == {"status": "Accepted"}
        got = wait_status(csms, "CS-L01S", "Installed", timeout=90)
        assert got == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed"]
        assert versions(csms, "CS-L01S") == [("PowerUp", "1.0.0"), ("FirmwareUpdate", "2.1.0")]


def test_https_from_a_server_the_station_does_not_trust_fails(stations, tmp_path):
    ctx, _ = _tls_server(tmp_path)
    with CSMS(interval=300) as csms, FileServer(ssl=ctx, name="localhost") as files:
        boot(stations, csms, "CS-TLSX")
        files.files["/fw.img"] = b"x"
        assert update(csms, "CS-TLSX", files.url("/fw.img"), b"x", retries=0)["status"] == "Accepted"
        assert wait_status(csms, "CS-TLSX", "DownloadFailed") == ["Downloading", "DownloadFailed"]
        assert files.got == []


def test_tc_l_02_03_retrieve_and_install_in_the_future(stations):
    new = image.build("host", "2.0.1")
    with CSMS(interval=300) as csms, FileServer() as files:
        boot(stations, csms, "CS-L02")
        files.files["/fw.img"] = new
        assert update(csms, "CS-L02", files.url("/fw.img"), new, retrieve=3, install=8)["status"] == "Accepted"
        got = wait_status(csms, "CS-L02", "Installed", timeout=90)
        assert got == ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified", "InstallScheduled",
                       "Installing", "InstallRebooting", "Installed"]


def test_tc_l_05_invalid_signing_certificate(stations):
    new = image.build("host", "2.0.2")
    _, _, k, c = si.manufacturer_ca("Someone Else")  # a signer under a root the station does not have
    with CSMS(interval=300) as csms, FileServer() as files:
        boot(stations, csms, "CS-L05")
        files.files["/fw.img"] = new
        r = update(csms, "CS-L05", files.url("/fw.img"), new, cert=si.pem_of(c), sig=si.sign(new, k))
        assert r["status"] == "InvalidCertificate"
        csms.wait(lambda log: "InvalidFirmwareSigningCertificate" in events(csms, "CS-L05"), 20)
        assert statuses(csms, "CS-L05") == [] and files.got == []


def test_tc_l_06_invalid_signature_keeps_the_running_firmware(stations):
    new = image.build("host", "2.0.3")
    with CSMS(interval=300) as csms, FileServer() as files:
        st = boot(stations, csms, "CS-L06")
        files.files["/fw.img"] = new
        assert update(csms, "CS-L06", files.url("/fw.img"), new, sig=si.sign(new + b"x", ca()[2]))["status"] == \
            "Accepted"
        assert wait_status(csms, "CS-L06", "InvalidSignature") == ["Downloading", "Downloaded", "InvalidSignature"]
        csms.wait(lambda log: "InvalidFirmwareSignature" in events(csms, "CS-L06"), 20)
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["boots"]) == ("a", "1.0.0", 1)


def test_tc_l_07_missing_file_retries_then_fails(stations):
    with CSMS(interval=300) as csms, FileServer() as files:
        st = boot(stations, csms, "CS-L07")
        r = update(csms, "CS-L07", files.url("/fw.img_does.not Exist"), b"", sig="AAAA", retries=2, retryInterval=1)
        assert r["status"] == "Accepted"
        got = wait_status(csms, "CS-L07", "DownloadFailed")
        assert got == ["Downloading", "DownloadFailed"]
        # one attempt, two retries (the URL has a space, as TC_L_07's: the server refuses the request line)
        assert "\n".join(st.lines).count("download failed") == 3


def test_tc_l_18_unsigned_is_rejected(stations):
    with CSMS(interval=300) as csms, FileServer() as files:
        boot(stations, csms, "CS-L18")
        r = update(csms, "CS-L18", files.url("/fw.img"), b"", cert="", sig="")
        assert r["status"] == "Rejected"
        assert files.got == []


def test_tc_f_19_and_tc_l_10_trigger_while_downloading_then_cancel(stations):
    new = image.build("host", "2.0.4")
    with CSMS(interval=300) as csms, FileServer() as files:
        boot(stations, csms, "CS-F19")
        files.files["/slow.img"] = files.files["/fw.img"] = new
        files.slow["/slow.img"] = 0.05  # 1 KB every 50 ms
        assert update(csms, "CS-F19", files.url("/slow.img"), new, rid=1)["status"] == "Accepted"
        wait_status(csms, "CS-F19", "Downloading")
        r, i = trigger(csms, "CS-F19", "FirmwareStatusNotification")
        assert r["status"] == "Accepted"
        csms.wait(lambda log: len(statuses(csms, "CS-F19")) >= 2, 10)
        assert payloads(csms, "FirmwareStatusNotification", "CS-F19")[1] == {"status": "Downloading", "requestId": 1}
        # TC_L_10: a new request cancels the running download; the old job sends nothing more
        assert update(csms, "CS-F19", files.url("/fw.img"), new, rid=2)["status"] == "AcceptedCanceled"
        got = wait_status(csms, "CS-F19", "Installed", timeout=90, rid=2)
        assert got == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed"]
        assert statuses(csms, "CS-F19", 1) == ["Downloading", "Downloading"]


def test_tc_l_13_15_install_waits_for_the_transaction(stations):
    new = image.build("host", "2.0.5")
    with CSMS(interval=300) as csms, FileServer() as files:
        st = boot(stations, csms, "CS-L15", evses=2)
        st.cmd(cmd="charge", evse=1, power_w=7400)
        csms.wait_for("TransactionEvent", timeout=20)
        files.files["/fw.img"] = new
        assert update(csms, "CS-L15", files.url("/fw.img"), new)["status"] == "Accepted"
        wait_status(csms, "CS-L15", "InstallScheduled", st=st)
        csms.wait(lambda log: any(p["evseId"] == 2 and p["connectorStatus"] == "Unavailable"
                                  for p in payloads(csms, "StatusNotification", "CS-L15")), 20)
        assert "Installing" not in statuses(csms, "CS-L15")
        st.cmd(cmd="unplug", evse=1)
        got = wait_status(csms, "CS-L15", "Installed", timeout=90, st=st)
        assert got == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing",
                       "InstallRebooting", "Installed"]


def test_an_image_that_raises_at_import_is_rolled_back_and_reported(stations, tmp_path):
    tree = tmp_path / "fw"
    shutil.copytree(os.path.join(ROOT, "firmware"), tree, ignore=shutil.ignore_patterns("__pycache__"))
    app = tree / "station" / "app.py"
    broken = "raise RuntimeError('broken build')\n\n\nclass Station:"
    app.write_text(app.read_text().replace("class Station:", broken, 1))
    bad = image.build("host", "2.0.6-broken", firmware=str(tree))
    with CSMS(interval=300) as csms, FileServer() as files:
        st = boot(stations, csms, "CS-RBK")
        files.files["/fw.img"] = bad
        assert update(csms, "CS-RBK", files.url("/fw.img"), bad, rid=4)["status"] == "Accepted"
        got = wait_status(csms, "CS-RBK", "InstallationFailed", timeout=90)
        assert got == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting",
                       "InstallationFailed"]
        assert [v for _, v in versions(csms, "CS-RBK")] == ["1.0.0", "1.0.0"]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"]) == ("a", "1.0.0")
        assert "FirmwareUpdated" not in events(csms, "CS-RBK")
        problems = st.problems()
        st.problems = lambda: [p for p in problems if "broken build" not in p]  # the expected crash
