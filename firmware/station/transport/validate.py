# Payload validation from the generated tables (schema_tbl.py, built by tools/build/gen_validators.py from the
# official OCPP 2.0.1 JSON schemas). No JSON-schema engine on the device: each action's schema is a compact
# text walked here in place, by index (node format: the generator's doc). Nothing is decoded and no path
# string is built while a message is valid: a check allocates only when it finds an error (the path is
# put together on the way back up). The error codes are Part 4's (never the 1.6 name FormationViolation):
#   wrong JSON type -> TypeConstraintViolation; missing required field, too few/many array items ->
#   OccurrenceConstraintViolation; value not in the enum, string too long, number out of range, not a
#   date-time -> PropertyConstraintViolation; property the schema does not define -> FormatViolation.
from micropython import const

from station import clock

TYPE = "TypeConstraintViolation"
OCCURRENCE = "OccurrenceConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
FORMAT = "FormatViolation"
_W = const(5)  # width of a number in the tables ("_____": no limit)

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
    if not isinstance(action, str) or not action or " " in action:
        return False
    k = _tables().KNOWN  # " A B C ": a name counts only between two spaces (no concatenation per call)
    i = k.find(action)
    while i >= 0:
        if k[i - 1] == " " and k[i + len(action)] == " ":
            return True
        i = k.find(action, i + 1)
    return False


def request_node(action):
    return _tables().REQ.get(action)


def response_node(action):
    return _tables().RES.get(action)


def _n(s, i):
    # the number at s[i:i+_W], None for "_____" (digits read one by one: a slice would allocate)
    if s[i] == "_":
        return None
    v = 0
    for k in range(i, i + _W):
        v = v * 10 + ord(s[k]) - 48
    return v


def _prop(s, i, n, nreq, name):
    # Index of the node of property `name` among the n properties from s[i], times 2, plus 1 when it is
    # one of the nreq required ones; -1 when the object has no such property.
    if ":" in name:  # no schema name has one: it could only match across a property's ':'
        return -1
    ln = len(name)
    for p in range(n):
        c = s.find(":", i)
        if c == i + ln and s.startswith(name, i):
            return (c + 1 + _W) * 2 + (p < nreq)
        i = c + 1 + _W + _n(s, c + 1)
    return -1


def _name(s, i):
    # the name of the property at s[i] (error path only: a new string)
    return s[i : s.find(":", i)]


def _custom(v):
    # CustomDataType: an object with vendorId (string <= 255) and anything else a vendor adds.
    if not isinstance(v, dict):
        return [TYPE, ""]
    vid = v.get("vendorId")
    if vid is None:
        return [OCCURRENCE, ".vendorId"]
    if not isinstance(vid, str):
        return [TYPE, ".vendorId"]
    if len(vid) > 255:
        return [PROPERTY, ".vendorId"]
    return None


def _obj(s, i, v):
    if not isinstance(v, dict):
        return [TYPE, ""]
    flags = ord(s[i + 1]) - 48
    nreq = (ord(s[i + 2]) - 48) * 10 + ord(s[i + 3]) - 48
    n = (ord(s[i + 4]) - 48) * 10 + ord(s[i + 5]) - 48
    i += 6
    if nreq:  # every required property present? counted, so no name is taken out of the table
        have = 0
        for name in v:
            r = _prop(s, i, n, nreq, name)
            if r >= 0 and r & 1:
                have += 1
        if have < nreq:  # the first missing one in the schema's order, as a path
            j = i
            for _ in range(nreq):
                c = s.find(":", j)
                name = s[j:c]
                if name not in v:
                    return [OCCURRENCE, "." + name]
                j = c + 1 + _W + _n(s, c + 1)
    for name in v:
        r = _prop(s, i, n, nreq, name)
        if r >= 0:
            err = _walk(s, r >> 1, v[name])
            if err:
                err[1] = "." + name + err[1]
                return err
        elif name == "customData" and flags & 2:
            err = _custom(v[name])
            if err:
                err[1] = ".customData" + err[1]
                return err
        elif not flags & 1:
            return [FORMAT, "." + str(name)]
    return None


def _enum(s, i, v):
    # v among the "|a|b|c|" values at s[i:i+len]
    end = i + _W + _n(s, i)
    i += _W
    n = len(v)
    if not n or "|" in v:
        return False
    j = s.find(v, i, end)
    while j >= 0:
        if s[j - 1] == "|" and s[j + n] == "|":
            return True
        j = s.find(v, j + 1, end)
    return False


def _walk(s, i, v):
    # None if v matches the node at s[i], else [error code, path below this node]
    k = s[i]
    if k == "o":
        return _obj(s, i, v)
    if k == "s" or k == "t" or k == "e":
        if not isinstance(v, str):
            return [TYPE, ""]
        if k == "s":
            m = _n(s, i + 1)
            if m is not None and len(v) > m:
                return [PROPERTY, ""]
        elif k == "e":
            if not _enum(s, i + 1, v):
                return [PROPERTY, ""]
        else:
            try:
                clock.parse(v)
            except ValueError:
                return [PROPERTY, ""]
        return None
    if k == "i" or k == "n":
        # bool is an int subclass in Python: true/false are not numbers in JSON.
        if isinstance(v, bool) or not (isinstance(v, int) or (k == "n" and isinstance(v, float))):
            return [TYPE, ""]
        lo = _n(s, i + 1)
        hi = _n(s, i + 1 + _W)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return [PROPERTY, ""]
        return None
    if k == "b":
        return None if isinstance(v, bool) else [TYPE, ""]
    if k == "a":
        if not isinstance(v, list):
            return [TYPE, ""]
        lo = _n(s, i + 1)
        hi = _n(s, i + 1 + _W)
        if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
            return [OCCURRENCE, ""]
        for j in range(len(v)):
            err = _walk(s, i + 1 + 2 * _W, v[j])
            if err:
                err[1] = "[%d]%s" % (j, err[1])
                return err
        return None
    return None


def check(node, v, path="$"):
    """None if v matches node (request_node/response_node), else (error code, path of the first offending
    field)."""
    err = _walk(node, 0, v)
    return None if err is None else (err[0], path + err[1])
