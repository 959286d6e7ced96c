"""`make demo`: a local CSMS (tools/csms/dev.py, the `ocpp` package) and one simulated station (tools/sim.py).

Walks through boot, plug-in, charging with periodic meter values and unplug, then sends a TriggerMessage of
every one of the eleven kinds (and a few with evse absent or unknown), then updates the firmware to the next
version (signed by a development manufacturer CA, served slowly over HTTP, a TriggerMessage during the download),
printing a readable message trace and ending with a summary table. Exits non-zero if the station did not behave
(a failed check, a schema error).
"""

import datetime
import json
import sys
import time

from boards.host.sim.simctl import Station, sent_after, set_vars, trigger
from tools.build import image
from tools.build import sign_image as si
from tools.csms.dev import CSMS
from tools.csms.files import FileServer

SID = "DEMO-CS1"


def short(payload, width=110):
    s = json.dumps(payload, separators=(",", ":"))
    return s if len(s) <= width else s[: width - 3] + "..."


class Trace:
    """Prints the CSMS's recording of the wire as it grows: who sent what."""

    def __init__(self, csms):
        self.csms = csms
        self.n = 0
        self.actions = {}  # message id -> action, to name the answers

    def flush(self):
        log = self.csms.log
        while self.n < len(log):
            m = log[self.n]
            self.n += 1
            arrow = "station -> CSMS" if m.dir == "in" else "CSMS -> station"
            if m.type == 2:
                self.actions[m.id] = m.action
                print("  %s  %-26s %s" % (arrow, m.action, short(m.payload)))
            elif m.type == 3:
                print("  %s  %-26s %s" % (arrow, "  " + self.actions.get(m.id, "?") + " result", short(m.payload)))
            else:
                print("  %s  %s" % (arrow, short(m.msg)))

    def step(self, title, wait=0.0):
        time.sleep(wait)
        self.flush()
        print("\n== " + title)


def update(csms, st, tr, failures):
    # L01 from this version to the next: InstallCertificate (manufacturer root), UpdateFirmware, a trigger while
    # downloading (TC_F_19), the reboot into the new image, Installed.
    _, root, key, cert = si.manufacturer_ca()
    r = csms.call(SID, "InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                             "certificate": si.pem_of(root)})
    new = image.build("host", "demo-2.0")
    srv = FileServer().start()
    srv.files["/fw.img"] = new
    srv.slow[None] = 0.02  # 1 KB every 20 ms, so a trigger finds the download running
    when = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fw = dict(si.fields(new, key, si.pem_of(cert)), location=srv.url("/fw.img"),
              retrieveDateTime=when)
    try:
        r = csms.call(SID, "UpdateFirmware", {"requestId": 1, "firmware": fw})
        csms.wait(lambda log: any(m.action == "FirmwareStatusNotification" and m.payload["status"] == "Downloading"
                                  for m in log if m.dir == "in" and m.type == 2), 20)
        tr.step("TriggerMessage(FirmwareStatusNotification) while downloading")
        r, i = trigger(csms, SID, "FirmwareStatusNotification")
        got = sent_after(csms, i, "FirmwareStatusNotification")[0].payload
        if got.get("status") != "Downloading":
            failures.append("trigger during the download answered %r" % got)
        tr.step("download, signature check, install, reboot into the new image")
        csms.wait(lambda log: any(m.action == "FirmwareStatusNotification" and m.payload["status"] == "Installed"
                                  for m in log if m.dir == "in" and m.type == 2), 120)
        s = st.cmd(cmd="state")
        if s["version"] != "demo-2.0":
            failures.append("the station runs %r after the update" % s["version"])
    except TimeoutError:
        failures.append("the firmware update did not end in Installed; the station's log:\n" +
                        "\n".join(st.lines[-40:]))
    finally:
        srv.stop()


def main():
    failures = []
    rows = []
    with CSMS(interval=60) as csms:
        tr = Trace(csms)
        print("CSMS listening on %s; starting the simulated station %s (2 EVSEs, SDM630 meters)" % (csms.url, SID))
        # the simulator's default heap (256K); the host board grows MicroPython's name table at boot for the
        # whole image (boards/host/main.py _warm), so the update's lazy imports need no large block late
        st = Station(csms.url + "/ocpp", SID, evses=2)
        try:
            tr.step("boot")
            csms.wait_for("StatusNotification", 2, timeout=20)
            tr.step("periodic meter values every 2 s during a transaction (SetVariables)", 0.3)
            set_vars(csms, SID, SampledDataCtrlr__TxUpdatedInterval=2)
            tr.step("EV plugged into EVSE 1", 0.2)
            st.cmd(cmd="plug", evse=1)
            st.wait_log("connector: evse 1: Occupied")
            tr.step("EV charging at 7.4 kW", 0.5)
            st.cmd(cmd="charge", evse=1, power_w=7400)
            time.sleep(5)
            tr.step("while charging: one TriggerMessage of every kind")
            cases = [
                ("BootNotification", None), ("Heartbeat", None), ("StatusNotification", {"id": 1, "connectorId": 1}),
                ("StatusNotification", None), ("StatusNotification", {"id": 9, "connectorId": 1}),
                ("MeterValues", {"id": 1}), ("MeterValues", None), ("MeterValues", {"id": 9}),
                ("TransactionEvent", {"id": 1}), ("TransactionEvent", {"id": 2}),
                ("LogStatusNotification", None), ("FirmwareStatusNotification", {"id": 1}),
                ("SignChargingStationCertificate", None), ("SignV2GCertificate", None),
                ("SignCombinedCertificate", None), ("PublishFirmwareStatusNotification", None),
            ]
            sends = {"SignChargingStationCertificate": "SignCertificate", "SignV2GCertificate": "SignCertificate",
                     "SignCombinedCertificate": "SignCertificate"}
            for kind, evse in cases:
                res, i = trigger(csms, SID, kind, evse)
                got = "-"
                if res["status"] == "Accepted":
                    action = sends.get(kind, kind)
                    want = 2 if kind == "MeterValues" and evse is None else 1
                    try:
                        msgs = sent_after(csms, i, action, want, timeout=10)
                        got = "%d x %s" % (len(msgs), action)
                    except TimeoutError:
                        got = "NOTHING"
                        failures.append("%s accepted but not sent" % kind)
                status = res["status"] + (" (%s)" % res["statusInfo"]["reasonCode"] if "statusInfo" in res else "")
                rows.append((kind, json.dumps(evse) if evse else "absent", status, got))
                time.sleep(0.2)
                tr.flush()
            tr.step("EV unplugged", 0.2)
            st.cmd(cmd="unplug", evse=1)
            csms.wait(lambda log: any(m.action == "TransactionEvent" and m.payload["eventType"] == "Ended"
                                      for m in log if m.dir == "in" and m.type == 2))
            tr.step("firmware update to the next version (L01)", 0.5)
            update(csms, st, tr, failures)
            tr.step("done", 0.5)
        finally:
            st.stop()
        if csms.errors():
            failures.append("the CSMS refused %d station message(s) by schema" % len(csms.errors()))
        if st.problems():
            failures.append("errors in the station log:\n" + "\n".join(st.problems()))
    w = max(len(r[0]) for r in rows)
    print("\n%-*s  %-28s  %-32s  %s" % (w, "requestedMessage", "evse", "status", "message received"))
    for r in rows:
        print("%-*s  %-28s  %-32s  %s" % (w, r[0], r[1], r[2], r[3]))
    for f in failures:
        print("FAILED: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
