# The device model: the one owner of the station's OCPP variables (component, variable, instance).
# Everything else asks it (dm.get) and the CSMS reads/changes it with GetVariables/SetVariables.
# Only attributeType "Actual" exists here. A value comes from, in rising order: the default below, the
# board's configuration (config.json, "dm"), and what the station was told at run time (SetVariables,
# the boot response's interval). Only the last is written to flash (dm.json), so a redeployed
# configuration takes effect and a value the CSMS set survives reboots and redeployments alike.
import json

from station import log

_TAG = "dm"
_RO = 1  # ReadOnly: SetVariables answers Rejected
_WO = 2  # WriteOnly: GetVariables answers Rejected (passwords)

# Measurands OCPP 2.0.1 defines that a meter of ours may provide (MeasurandEnumType subset).
MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "Frequency",
)
_MEAS_DEFAULT = "Energy.Active.Import.Register,Power.Active.Import"

# (component, variable, instance, type, default, flags, limit)
# type: "i" integer (limit = (min, max)), "b" boolean, "s" string (limit = (minlen, maxlen)),
#       "m" member list of measurands, "o" option (limit = allowed values).
# Defaults follow the spec digest §6.
_DEFS = (
    ("OCPPCommCtrlr", "HeartbeatInterval", None, "i", 0, 0, (0, 86400)),
    ("OCPPCommCtrlr", "MessageTimeout", "Default", "i", 30, 0, (1, 600)),
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None, "i", 10, 0, (0, 3600)),
    ("OCPPCommCtrlr", "RetryBackOffRandomRange", None, "i", 10, 0, (0, 3600)),
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None, "i", 5, 0, (0, 20)),
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", "i", 3, 0, (1, 10)),
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", "i", 30, 0, (1, 3600)),
    ("OCPPCommCtrlr", "WebSocketPingInterval", None, "i", 30, 0, (0, 3600)),
    # Shown by the station from what its file-transfer code supports (HTTP, HTTPS): only what works.
    ("OCPPCommCtrlr", "FileTransferProtocols", None, "s", "", _RO, (0, 32)),
    ("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate", None, "b", False, 0, None),
    ("ChargingStation", "FirmwareVersion", None, "s", "", _RO, (0, 50)),  # the running image's (app.py shows it)
    ("AlignedDataCtrlr", "Measurands", None, "m", _MEAS_DEFAULT, 0, None),
    ("AlignedDataCtrlr", "Interval", None, "i", 900, 0, (0, 86400)),
    ("SampledDataCtrlr", "TxUpdatedMeasurands", None, "m", _MEAS_DEFAULT, 0, None),
    ("SampledDataCtrlr", "TxUpdatedInterval", None, "i", 60, 0, (0, 86400)),
    ("SampledDataCtrlr", "TxStartedMeasurands", None, "m", "Energy.Active.Import.Register", 0, None),
    ("SampledDataCtrlr", "TxEndedMeasurands", None, "m", "Energy.Active.Import.Register", 0, None),
    ("TxCtrlr", "TxStartPoint", None, "o", "EVConnected", 0, ("EVConnected", "PowerPathClosed", "EnergyTransfer")),
    ("TxCtrlr", "TxStopPoint", None, "o", "EVConnected", 0, ("EVConnected", "PowerPathClosed", "EnergyTransfer")),
    ("SecurityCtrlr", "OrganizationName", None, "s", "", 0, (0, 64)),
    ("SecurityCtrlr", "BasicAuthPassword", None, "s", "", _WO, (16, 40)),  # used from the next connection on
    ("SecurityCtrlr", "SecurityProfile", None, "i", 1, _RO, (0, 3)),
    ("SecurityCtrlr", "Identity", None, "s", "", _RO, (0, 48)),
    # Spec silent on a default; 60 s lets a CSMS that signs by hand keep the pending CSR for a while.
    ("SecurityCtrlr", "CertSigningWaitMinimum", None, "i", 60, 0, (0, 86400)),
    # Spec silent on a default; 3 doublings: resends after W, 2W, 4W and 8W, then wait for a trigger.
    ("SecurityCtrlr", "CertSigningRepeatTimes", None, "i", 3, 0, (0, 10)),
    ("SecurityCtrlr", "MaxCertificateChainSize", None, "i", 10000, _RO, (0, 10000)),
    ("SecurityCtrlr", "CertificateEntries", None, "i", 0, _RO, (0, 100)),  # installed CA certificates
    ("SecurityCtrlr", "AdditionalRootCertificateCheck", None, "b", False, _RO, None),  # M05.FR.09-16: not built
    ("ISO15118Ctrlr", "SeccId", None, "s", "", 0, (0, 64)),
    ("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", None, "b", False, 0, None),
)
_FILE = "dm.json"


def _key(c, v, i):
    return c + "." + v + ("." + i if i else "")


def _names(k, d):
    # True when the key "Component.Variable[.Instance]" names row d (compared in place: no key built)
    c, v, i = d[0], d[1], d[2]
    a = len(c)
    b = a + 1 + len(v)
    if len(k) != (b + 1 + len(i) if i else b) or not k.startswith(c) or k[a] != "." or not k.startswith(v, a + 1):
        return False
    return not i or (k[b] == "." and k.startswith(i, b + 1))


def _text(t, value):
    if t == "b":
        return "true" if value else "false"
    return str(value)


class DeviceModel:
    def __init__(self, store=None, measurable=None, initial=None):
        # measurable: measurand names the station's meters can deliver (None: all of MEASURANDS).
        self._store = store
        self._measurable = measurable or MEASURANDS
        self._set = {}  # what was set at run time: the only part on flash
        cfg = initial or {}  # board/simulator configuration, as {"Component.Variable[.Instance]": value}
        saved = store.read(_FILE) if store else None
        if saved:
            try:
                saved = json.loads(saved)
                if "set" in saved:
                    self._set = saved["set"]
                else:  # a flat file of an older firmware mixed in copies of the configuration: for the
                    # variables the configuration names, the configuration wins
                    self._set = {k: saved[k] for k in saved if k not in cfg}
            except (ValueError, TypeError):
                log.warn(_TAG, "%s is corrupt; using defaults", _FILE)
        # Each row's value in force (set at run time, else configured, else the default), by row number: get()
        # finds a row by comparing the names it is given and allocates nothing (no key string per call). One
        # block, made here and changed in place; no dict of the values besides.
        self._cur = [d[4] for d in _DEFS]
        for src in (cfg, self._set):  # the later wins; keys compared in place, none built
            for k in src:
                for j in range(len(_DEFS)):
                    if _names(k, _DEFS[j]):
                        self._cur[j] = src[k]

    def _row(self, comp, var, inst):
        # row number of (comp, var, inst) as _find matches it, -1 when there is none
        for j in range(len(_DEFS)):
            d = _DEFS[j]
            if d[0] == comp and d[1] == var and (d[2] == inst or (inst is None and d[2] == "Default")):
                return j
        return -1

    def _find(self, comp, var, inst):
        comp_known = False
        for d in _DEFS:
            if d[0] == comp:
                comp_known = True
                if d[1] == var and (d[2] == inst or (inst is None and d[2] == "Default")):
                    return d, True
        return None, comp_known

    def get(self, comp, var, inst=None):
        j = self._row(comp, var, inst)
        if j < 0:
            raise KeyError(_key(comp, var, inst))
        return self._cur[j]

    def put(self, comp, var, value, inst=None):
        """Set a value from inside the station (e.g. HeartbeatInterval from the boot response)."""
        d, _ = self._find(comp, var, inst)
        if d is None:
            raise KeyError(_key(comp, var, inst))
        k = _key(d[0], d[1], d[2])
        if k in self._set and self._set[k] == value:
            return
        self._set[k] = value
        self._cur[self._row(d[0], d[1], d[2])] = value
        if self._store:
            self._store.write(_FILE, json.dumps({"set": self._set}))

    def show(self, comp, var, value):
        """A read-only value the station reports (e.g. CertificateEntries): in RAM, never on flash."""
        for j in range(len(_DEFS)):  # the row that key names, if there is one
            d = _DEFS[j]
            if d[0] == comp and d[1] == var and d[2] is None:
                self._cur[j] = value

    def measurands(self, comp, var):
        v = self.get(comp, var)
        return [m for m in v.split(",") if m] if v else []

    def _parse(self, d, text):
        # -> (value, None) or (None, reason) for Rejected
        t, lim = d[3], d[6]
        if t == "i":
            try:
                v = int(text)
            except ValueError:
                return None, "NotAnInteger"
            if not lim[0] <= v <= lim[1]:
                return None, "OutOfRange"
            return v, None
        if t == "b":
            if text in ("true", "false"):
                return text == "true", None
            return None, "NotABoolean"
        if t == "s":
            if not lim[0] <= len(text) <= lim[1]:
                return None, "InvalidLength"
            return text, None
        if t == "o":
            return (text, None) if text in lim else (None, "ValueNotAllowed")
        # member list: every member must be a measurand our meters can deliver
        items = [m.strip() for m in text.split(",")]
        for m in items:
            if m not in self._measurable:
                log.info(_TAG, "refusing measurand %r: not measurable here", m)
                return None, "UnsupportedMeasurand"
        return ",".join(items), None

    def _lookup(self, item):
        # -> (def, status) for a GetVariableData/SetVariableData item
        if item.get("attributeType", "Actual") != "Actual":
            return None, "NotSupportedAttributeType"
        c, v = item["component"], item["variable"]
        if c.get("evse") is not None:  # this model has no per-EVSE variables
            return None, "UnknownComponent"
        d, comp_known = self._find(c["name"], v["name"], v.get("instance"))
        if d is None:
            return None, "UnknownVariable" if comp_known else "UnknownComponent"
        return d, "Accepted"

    def _result(self, item):
        # The result entry both requests answer with (component, variable, attributeType echoed), the
        # variable's definition and the lookup status.
        r = {"component": item["component"], "variable": item["variable"]}
        if "attributeType" in item:
            r["attributeType"] = item["attributeType"]
        d, st = self._lookup(item)
        return r, d, st

    def get_variables(self, req):
        """GetVariablesRequest payload -> GetVariablesResponse payload."""
        out = []
        for item in req["getVariableData"]:
            r, d, st = self._result(item)
            if d is not None and d[5] & _WO:
                st = "Rejected"
            elif d is not None:
                r["attributeValue"] = _text(d[3], self._cur[self._row(d[0], d[1], d[2])])
            r["attributeStatus"] = st
            out.append(r)
        return {"getVariableResult": out}

    def set_variables(self, req):
        """SetVariablesRequest payload -> SetVariablesResponse payload; each item stands on its own."""
        out = []
        for item in req["setVariableData"]:
            r, d, st = self._result(item)
            if d is not None:
                if d[5] & _RO:
                    st, why = "Rejected", "ReadOnly"
                else:
                    value, why = self._parse(d, item["attributeValue"])
                    if why is None:
                        self.put(d[0], d[1], value, d[2])
                        st = "Accepted"  # every variable here takes effect without a reboot
                    else:
                        st = "Rejected"
                if why:
                    r["attributeStatusInfo"] = {"reasonCode": why}
            r["attributeStatus"] = st
            out.append(r)
        return {"setVariableResult": out}
