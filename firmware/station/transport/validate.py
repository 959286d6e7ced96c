# Payload validation from the generated tables (schema_tbl.py, built by tools/build/gen_validators.py from the
# official OCPP 2.0.1 JSON schemas). No JSON-schema engine on the device: each action's schema is a compact
# JSON text, decoded when a message of that action arrives and walked here (node format: the generator's doc).
# The error codes are Part 4's (never the 1.6 name FormationViolation):
#   wrong JSON type -> TypeConstraintViolation; missing required field, too few/many array items ->
#   OccurrenceConstraintViolation; value not in the enum, string too long, number out of range, not a
#   date-time -> PropertyConstraintViolation; property the schema does not define -> FormatViolation.
import json

from station import clock

TYPE = "TypeConstraintViolation"
OCCURRENCE = "OccurrenceConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
FORMAT = "FormatViolation"

_tbl = None


def _tables():
    # Imported on first use so the tables cost nothing until the first message.
    global _tbl
    if _tbl is None:
        from station.transport import schema_tbl as t

        _tbl = t
    return _tbl


def known(action):
    """True when action is an OCPP 2.0.1 action name at all."""
    return isinstance(action, str) and " " not in action and (" " + action + " ") in _tables().KNOWN


def _node(tbl, action):
    s = tbl.get(action)
    return json.loads(s) if s is not None else None


def request_node(action):
    return _node(_tables().REQ, action)


def response_node(action):
    return _node(_tables().RES, action)


def _custom(v, path):
    # CustomDataType: an object with vendorId (string <= 255) and anything else a vendor adds.
    if not isinstance(v, dict):
        return TYPE, path
    vid = v.get("vendorId")
    if vid is None:
        return OCCURRENCE, path + ".vendorId"
    if not isinstance(vid, str):
        return TYPE, path + ".vendorId"
    if len(vid) > 255:
        return PROPERTY, path + ".vendorId"
    return None


def check(node, v, path="$"):
    """None if v matches node, else (error code, path of the first offending field)."""
    k = node[0]
    if k == "o":
        if not isinstance(v, dict):
            return TYPE, path
        props = node[1]
        for name in node[2]:
            if name not in v:
                return OCCURRENCE, path + "." + name
        for name in v:
            sub = None
            for p in props:
                if p[0] == name:
                    sub = p[1]
                    break
            if sub is not None:
                err = check(sub, v[name], path + "." + name)
            elif name == "customData" and node[3] & 2:
                err = _custom(v[name], path + ".customData")
            elif node[3] & 1:
                err = None
            else:
                err = FORMAT, path + "." + str(name)
            if err:
                return err
        return None
    if k == "s" or k == "t" or k == "e":
        if not isinstance(v, str):
            return TYPE, path
        if k == "s":
            if node[1] is not None and len(v) > node[1]:
                return PROPERTY, path
        elif k == "e":
            if v not in node[1]:
                return PROPERTY, path
        else:
            try:
                clock.parse(v)
            except ValueError:
                return PROPERTY, path
        return None
    if k == "i" or k == "n":
        # bool is an int subclass in Python: true/false are not numbers in JSON.
        if isinstance(v, bool) or not (isinstance(v, int) or (k == "n" and isinstance(v, float))):
            return TYPE, path
        if (node[1] is not None and v < node[1]) or (node[2] is not None and v > node[2]):
            return PROPERTY, path
        return None
    if k == "b":
        return None if isinstance(v, bool) else (TYPE, path)
    if k == "a":
        if not isinstance(v, list):
            return TYPE, path
        if (node[2] is not None and len(v) < node[2]) or (node[3] is not None and len(v) > node[3]):
            return OCCURRENCE, path
        for i in range(len(v)):
            err = check(node[1], v[i], "%s[%d]" % (path, i))
            if err:
                return err
        return None
    return None
