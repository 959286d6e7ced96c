# The one place that knows wall-clock time and builds RFC 3339 timestamps.
# Internally: seconds since 1970-01-01 UTC, whatever the port's epoch (ESP32: 2000, Unix: 1970).
# The CSMS sets the clock (BootNotification/Heartbeat currentTime); until then the board RTC counts.
import time

_offset = 0  # added to the port's time.time() to get Unix time
_port_epoch = None


def _epoch():
    global _port_epoch
    if _port_epoch is None:
        _port_epoch = 946684800 if time.gmtime(0)[0] == 2000 else 0
    return _port_epoch


def _days(y, m, d):
    # Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def now():
    """Unix time in whole seconds."""
    return int(time.time()) + _epoch() + _offset


def rfc3339(t=None):
    if t is None:
        t = now()
    g = time.gmtime(t - _epoch())
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % g[:6]


def parse(s):
    """RFC 3339 date-time -> Unix seconds; ValueError when it is not one."""
    if not isinstance(s, str) or len(s) < 20 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt":
        raise ValueError("not a date-time: %r" % (s,))
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("date-time out of range: %r" % (s,))
    i = 19
    if i < len(s) and s[i] == ".":  # fraction: ignored, whole seconds are enough for OCPP
        i += 1
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
    tz = s[i:]
    off = 0
    if tz in ("Z", "z"):
        pass
    elif len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
        off = (int(tz[1:3]) * 60 + int(tz[4:6])) * 60
        if tz[0] == "-":
            off = -off
    else:
        raise ValueError("bad time zone in %r" % (s,))
    return _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off


def set_from(s):
    """Set wall time from an RFC 3339 string (the CSMS's currentTime). Returns the step in seconds."""
    global _offset
    step = parse(s) - now()
    _offset += step
    return step
