"""Generate the firmware's validation tables from the official OCPP 2.0.1 JSON schemas.

    .venv/bin/python tools/build/gen_validators.py          # schemas/*.json -> firmware/station/transport/schema_tbl.py
    .venv/bin/python tools/build/gen_validators.py --copy   # first refresh schemas/ from the installed `ocpp` package

The device carries no JSON-schema engine: each schema becomes a compact text that
firmware/station/transport/validate.py walks in place, by index, with no decoding: a message costs no tree and
no per-field strings (a TransactionEventResponse cost 8 KB on the host while the text was decoded as JSON per
message). Strings cost far less RAM than nested tuples and nothing when frozen. Only the messages the station
handles are generated (see INCOMING/OUTGOING). Node format (ASCII; N = five digits, or "_____" for no limit):
  o F RR PP prop...   object: F flags (1 extra properties allowed, 2 customData allowed), RR required count,
                      PP property count; the required properties come first, in the schema's required order
  prop = name ":" N node   N: the length of node, so a lookup skips the properties before the one it wants
  a N N node   array: minItems, maxItems, then the item node       s N   string, maxLength
  e N |v|v|...|  enum: N the length of the values part              t     date-time string
  i N N  integer: minimum, maximum    n N N  number                 b     boolean
"""

import json
import os
import shutil
import sys

from tools import ROOT

SCHEMAS = os.path.join(ROOT, "schemas")
OUT = os.path.join(ROOT, "firmware", "station", "transport", "schema_tbl.py")

# CALLs the CSMS sends that the station answers: their Request schema validates the incoming payload.
INCOMING = (  # every action the station has a handler for (tests_host/test_rpc_schemas.py checks both ways)
    "CertificateSigned",
    "ChangeAvailability",
    "DeleteCertificate",
    "GetInstalledCertificateIds",
    "GetLog",
    "GetVariables",
    "InstallCertificate",
    "Reset",
    "SetVariables",
    "TriggerMessage",
    "UpdateFirmware",
)
# CALLs the station sends: their Response schema validates the CSMS's CALLRESULT.
OUTGOING = (
    "BootNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "SecurityEventNotification",
    "SignCertificate",
    "StatusNotification",
    "TransactionEvent",
)


def package_schemas():
    import ocpp.v201

    return os.path.join(os.path.dirname(ocpp.v201.__file__), "schemas")


def wanted_files():
    both = INCOMING + OUTGOING
    return sorted([a + "Request.json" for a in both] + [a + "Response.json" for a in both])


def all_actions():
    # Every OCPP 2.0.1 action name: an unknown one is NotImplemented, a known one we lack is NotSupported.
    names = set()
    for f in os.listdir(package_schemas()):
        if f.endswith("Request.json"):
            names.add(f[: -len("Request.json")])
    return sorted(names)


class Gen:
    def share(self, node):
        return node

    def node(self, s, defs):
        if "$ref" in s:
            name = s["$ref"].split("/")[-1]
            return self.node(defs[name], defs)
        t = s.get("type")
        if t == "object":
            props = []
            flags = 0 if s.get("additionalProperties") is False else 1
            for k, v in s.get("properties", {}).items():
                if k == "customData":
                    flags |= 2
                    continue
                props.append((k, self.node(v, defs)))
            return self.share(("o", tuple(props), tuple(s.get("required", ())), flags))
        if t == "array":
            return self.share(("a", self.node(s["items"], defs), s.get("minItems"), s.get("maxItems")))
        if t == "string":
            if "enum" in s:
                return self.share(("e", tuple(s["enum"])))
            if s.get("format") == "date-time":
                return ("t",)
            return ("s", s.get("maxLength"))
        if t in ("integer", "number"):
            return ("i" if t == "integer" else "n", s.get("minimum"), s.get("maximum"))
        if t == "boolean":
            return ("b",)
        raise ValueError("unsupported schema node: %r" % (s,))

    def schema(self, path):
        with open(path) as f:
            s = json.load(f)
        return self.node(s, s.get("definitions", {}))


def _n5(v):
    if v is None:
        return "_____"
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 99999:
        raise ValueError("limit not encodable (a whole number 0..99999): %r" % (v,))
    return "%05d" % v


def encode(node):
    """A node of Gen (nested tuples) as the text validate.py walks (format: the module's doc)."""
    k = node[0]
    if k == "o":
        props = dict(node[1])
        req = list(node[2])
        missing = [r for r in req if r not in props]
        if missing or len(props) > 99:
            raise ValueError("object not encodable: required %r not among its properties" % missing)
        out = "o%d%02d%02d" % (node[3], len(req), len(props))
        for name in req + [p for p, _ in node[1] if p not in req]:
            if ":" in name:
                raise ValueError("property name with ':' %r" % name)
            sub = encode(props[name])
            out += name + ":" + _n5(len(sub)) + sub
        return out
    if k == "a":
        return "a" + _n5(node[2]) + _n5(node[3]) + encode(node[1])
    if k == "s":
        return "s" + _n5(node[1])
    if k in ("i", "n"):
        return k + _n5(node[1]) + _n5(node[2])
    if k == "e":
        if any("|" in v or not v for v in node[1]):
            raise ValueError("enum value not encodable: %r" % (node[1],))
        vals = "|" + "|".join(node[1]) + "|"
        return "e" + _n5(len(vals)) + vals
    return k  # "t", "b"


def generate():
    g = Gen()
    req = [(a, g.schema(os.path.join(SCHEMAS, a + "Request.json"))) for a in INCOMING]
    res = [(a, g.schema(os.path.join(SCHEMAS, a + "Response.json"))) for a in OUTGOING]
    out = [
        "# GENERATED by tools/build/gen_validators.py from schemas/*.json (official OCPP 2.0.1). Do not edit.",
        "# Node format: see tools/build/gen_validators.py. A test fails when this file is out of date.",
        "# Every OCPP 2.0.1 action, space separated (unknown -> NotImplemented, known but unhandled -> NotSupported).",
        "KNOWN = %r" % (" " + " ".join(all_actions()) + " "),
    ]
    out.append("# Incoming CALL payloads by action.")
    out.append("REQ = {")
    out += ["    %r: %r," % (a, encode(n)) for a, n in req]
    out.append("}")
    out.append("# CALLRESULT payloads of the station's own CALLs by action.")
    out.append("RES = {")
    out += ["    %r: %r," % (a, encode(n)) for a, n in res]
    out.append("}")
    return "\n".join(out) + "\n"


def copy():
    os.makedirs(SCHEMAS, exist_ok=True)
    for f in wanted_files():
        shutil.copyfile(os.path.join(package_schemas(), f), os.path.join(SCHEMAS, f))


def main(argv):
    if "--copy" in argv:
        copy()
    with open(OUT, "w") as f:
        f.write(generate())
    print("wrote", OUT)


if __name__ == "__main__":
    main(sys.argv[1:])
