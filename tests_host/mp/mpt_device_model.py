import os

from mptest import eq
from station.model.device_model import DeviceModel
from station.store import Store

HEAP = "48K"
_ROOT = "/tmp/mpt_dm"


def _store():
    os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return Store(_ROOT)


def _reopen():  # a reboot: the same flash
    return Store(_ROOT)


def _item(c, v, inst=None, val=None, evse=None):
    comp = {"name": c}
    if evse is not None:
        comp["evse"] = {"id": evse}
    var = {"name": v}
    if inst:
        var["instance"] = inst
    it = {"component": comp, "variable": var}
    if val is not None:
        it["attributeValue"] = val
    return it


def test_defaults_from_spec_digest():
    dm = DeviceModel()
    eq(dm.get("AlignedDataCtrlr", "Measurands"), "Energy.Active.Import.Register,Power.Active.Import")
    eq(dm.get("OCPPCommCtrlr", "MessageTimeout"), 30)  # instance "Default" found without naming it
    eq(dm.get("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"), 3)
    eq(dm.get("SampledDataCtrlr", "TxUpdatedInterval"), 60)
    eq(dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled"), False)


def test_get_variables_statuses():
    dm = DeviceModel(initial={"SecurityCtrlr.BasicAuthPassword": "0123456789abcdef"})
    r = dm.get_variables({"getVariableData": [
        _item("AlignedDataCtrlr", "Interval"),
        _item("NoSuchCtrlr", "Interval"),
        _item("AlignedDataCtrlr", "NoSuchVar"),
        _item("SecurityCtrlr", "BasicAuthPassword"),
        dict(_item("AlignedDataCtrlr", "Interval"), attributeType="MaxSet"),
        _item("OCPPCommCtrlr", "MessageTimeout", "Default"),
        _item("AlignedDataCtrlr", "Interval", evse=3),
    ]})["getVariableResult"]
    eq([x["attributeStatus"] for x in r], ["Accepted", "UnknownComponent", "UnknownVariable", "Rejected",
                                          "NotSupportedAttributeType", "Accepted", "UnknownComponent"])
    eq(r[0]["attributeValue"], "900")
    assert "attributeValue" not in r[3]  # a write-only password is never read back
    eq(r[5]["attributeValue"], "30")


def test_set_variables_checks_and_persists():
    st = _store()
    dm = DeviceModel(st, measurable=("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"))
    r = dm.set_variables({"setVariableData": [
        _item("AlignedDataCtrlr", "Measurands", val="Current.Import"),
        _item("AlignedDataCtrlr", "Interval", val="-5"),
        _item("AlignedDataCtrlr", "Interval", val="ten"),
        _item("SampledDataCtrlr", "TxUpdatedMeasurands", val="Voltage"),
        _item("SecurityCtrlr", "SecurityProfile", val="2"),
        _item("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", val="yes"),
        _item("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", val="true"),
        _item("TxCtrlr", "TxStartPoint", val="Authorized"),
        _item("Nope", "X", val="1"),
    ]})["setVariableResult"]
    eq([x["attributeStatus"] for x in r], ["Accepted", "Rejected", "Rejected", "Rejected", "Rejected",
                                          "Rejected", "Accepted", "Rejected", "UnknownComponent"])
    eq(r[3]["attributeStatusInfo"]["reasonCode"], "UnsupportedMeasurand")
    eq(r[4]["attributeStatusInfo"]["reasonCode"], "ReadOnly")
    eq(dm.measurands("AlignedDataCtrlr", "Measurands"), ["Current.Import"])
    eq(dm.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled"), True)
    eq(dm.get("SecurityCtrlr", "SecurityProfile"), 1)  # read-only: unchanged
    # after a reboot the changed values are still there, the others are defaults
    dm2 = DeviceModel(Store(_ROOT))
    eq(dm2.get("AlignedDataCtrlr", "Measurands"), "Current.Import")
    eq(dm2.get("ISO15118Ctrlr", "V2GCertificateInstallationEnabled"), True)
    eq(dm2.get("AlignedDataCtrlr", "Interval"), 900)


def test_corrupt_file_falls_back_to_defaults():
    st = _store()
    st.write("dm.json", b"{not json")
    eq(DeviceModel(st).get("AlignedDataCtrlr", "Interval"), 900)


def test_flash_keeps_what_the_csms_set_not_copies_of_the_configuration():
    st = _store()
    cfg = {"SecurityCtrlr.BasicAuthPassword": "first-password-123", "SecurityCtrlr.OrganizationName": "Acme",
           "SecurityCtrlr.Identity": "CS1"}
    dm = DeviceModel(st, None, cfg)
    r = dm.set_variables({"setVariableData": [_item("AlignedDataCtrlr", "Interval", val="60")]})
    eq(r["setVariableResult"][0]["attributeStatus"], "Accepted")
    dm.put("OCPPCommCtrlr", "HeartbeatInterval", 300)  # from the boot response
    # redeployed configuration: new password, organisation and identity; the CSMS's values stay
    cfg2 = {"SecurityCtrlr.BasicAuthPassword": "second-password-456", "SecurityCtrlr.OrganizationName": "Beta",
            "SecurityCtrlr.Identity": "CS2"}
    dm2 = DeviceModel(_reopen(), None, cfg2)
    eq(dm2.get("SecurityCtrlr", "BasicAuthPassword"), "second-password-456")
    eq(dm2.get("SecurityCtrlr", "OrganizationName"), "Beta")
    eq(dm2.get("SecurityCtrlr", "Identity"), "CS2")
    eq(dm2.get("AlignedDataCtrlr", "Interval"), 60)
    eq(dm2.get("OCPPCommCtrlr", "HeartbeatInterval"), 300)
    # the CSMS sets the organisation: that now wins over the configuration, also after a redeploy
    dm2.set_variables({"setVariableData": [_item("SecurityCtrlr", "OrganizationName", val="FromCSMS")]})
    eq(DeviceModel(_reopen(), None, cfg2).get("SecurityCtrlr", "OrganizationName"), "FromCSMS")


def test_flat_file_of_older_firmware_gives_way_to_the_configuration():
    st = _store()
    st.write("dm.json", b'{"SecurityCtrlr.BasicAuthPassword": "stale-copy-0000000", "AlignedDataCtrlr.Interval": 60}')
    dm = DeviceModel(st, None, {"SecurityCtrlr.BasicAuthPassword": "redeployed-pass-1234"})
    eq(dm.get("SecurityCtrlr", "BasicAuthPassword"), "redeployed-pass-1234")
    eq(dm.get("AlignedDataCtrlr", "Interval"), 60)


def test_get_allocates_nothing_and_follows_put_and_show():
    from mptest import alloc

    dm = DeviceModel()
    eq(alloc(lambda: dm.get("SampledDataCtrlr", "TxUpdatedInterval")), 0)
    eq(alloc(lambda: dm.get("OCPPCommCtrlr", "MessageTimeout")), 0)  # the Default instance
    eq(alloc(lambda: dm.get("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")), 0)
    dm.put("SampledDataCtrlr", "TxUpdatedInterval", 7)
    eq(dm.get("SampledDataCtrlr", "TxUpdatedInterval"), 7)
    dm.put("OCPPCommCtrlr", "MessageTimeout", 12, "Default")
    eq(dm.get("OCPPCommCtrlr", "MessageTimeout"), 12)
    dm.show("SecurityCtrlr", "CertificateEntries", 3)
    eq(dm.get("SecurityCtrlr", "CertificateEntries"), 3)
    eq(DeviceModel(initial={"AlignedDataCtrlr.Interval": 60}).get("AlignedDataCtrlr", "Interval"), 60)
