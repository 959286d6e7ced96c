"""Security events the station raises by itself (A04), against the `ocpp` package CSMS: one per boot as the
reset cause says, SettingSystemTime when the CSMS moves a set clock by more than a few minutes, and
ReconfigurationOfSecurityParameters when the CSMS changes a security variable."""

import datetime

from boards.host.sim.simctl import marker, sent_after, trigger
from tools.csms.dev import CSMS


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _events(csms, sid, since=0):
    return [m.payload for m in csms.log[since:]
            if m.dir == "in" and m.action == "SecurityEventNotification" and m.station == sid]


def _until_marker(csms, sid, since):
    """The security events sent after log position since and before a marker event: security events go in
    the order they were raised (one queue on flash), so a changed OrganizationName, which raises one, comes
    after every event raised before it. Order, not time."""
    csms.call(sid, "SetVariables", {"setVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "OrganizationName"},
         "attributeValue": "Marker %d" % since}]})
    mark = "SecurityCtrlr.OrganizationName"
    csms.wait(lambda log: any(e.get("techInfo") == mark for e in _events(csms, sid, since)))
    evs = _events(csms, sid, since)
    return evs[:[e.get("techInfo") for e in evs].index(mark)]


def test_boot_event_follows_the_reset_cause(stations):
    with CSMS() as csms:
        st = stations(csms, "CS-SE1")
        ev = csms.wait_for("SecurityEventNotification")[0].payload
        assert ev["type"] == "StartupOfTheDevice" and ev["techInfo"] == "PowerUp"
        boots = csms.messages("BootNotification")
        first = csms.messages("SecurityEventNotification")[0]
        assert boots[0].t <= first.t  # after the BootNotification, not before it
        st.stop()
    with CSMS() as csms:
        stations(csms, "CS-SE2", reset_cause="Watchdog")
        ev = csms.wait_for("SecurityEventNotification")[0].payload
        assert (ev["type"], ev["techInfo"]) == ("ResetOrReboot", "Watchdog")


def test_setting_system_time_only_for_a_big_step(stations):
    offset = {"s": 0}

    def hb(_payload):
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"currentTime": _iso(now + datetime.timedelta(seconds=offset["s"]))}

    with CSMS(responses={"Heartbeat": hb}) as csms:
        stations(csms, "CS-SE3")
        csms.wait_for("SecurityEventNotification")  # the boot's
        n = len(csms.log)
        offset["s"] = 20  # drift: no event
        assert trigger(csms, "CS-SE3", "Heartbeat")[0]["status"] == "Accepted"
        sent_after(csms, n, "Heartbeat")
        offset["s"] = 3600  # the CSMS moves the clock an hour ahead
        assert trigger(csms, "CS-SE3", "Heartbeat")[0]["status"] == "Accepted"
        sent_after(csms, n, "Heartbeat", 2)
        sent_after(csms, n, "SecurityEventNotification")
        marker(csms, "CS-SE3")  # a third Heartbeat, answered with the same hour: no step
        evs = _until_marker(csms, "CS-SE3", n)
        assert [e["type"] for e in evs] == ["SettingSystemTime"], evs  # the 20 s step raised none
        step = int(evs[0]["techInfo"].split()[2])
        assert 3500 <= step <= 3600, evs


def test_reconfiguration_of_security_parameters(stations):
    with CSMS() as csms:
        stations(csms, "CS-SE4")
        csms.wait_for("SecurityEventNotification")
        n = len(csms.log)
        r = csms.call("CS-SE4", "SetVariables", {"setVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "attributeValue": "a-new-password-of-16+"},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "attributeValue": "600"}]})
        assert [x["attributeStatus"] for x in r["setVariableResult"]] == ["Accepted", "Accepted"]
        evs = _until_marker(csms, "CS-SE4", n)
        assert len(evs) == 1, evs  # HeartbeatInterval is no security parameter
        assert evs[0]["type"] == "ReconfigurationOfSecurityParameters"
        assert evs[0]["techInfo"] == "SecurityCtrlr.BasicAuthPassword"  # which one, never the value
