# The one place that knows wall-clock time and builds timestamps.
# Times are seconds since 2025-01-01 UTC (UNIX: that instant in Unix time), whatever the port's epoch
# (ESP32: 2000, Unix: 1970): from 1991 to 2059 they stay small ints on every port (an ESP32's are 31-bit,
# at most 1,073,741,823; Unix-epoch seconds are past that, a heap object on every now()). now(), parse()
# and rfc3339() all use these seconds; only the board's RTC speaks its port's epoch.
# The CSMS sets the clock (BootNotification/Heartbeat currentTime); until then the board RTC counts.
#
# After a power loss an ESP32's RTC restarts at 2000-01-01: such a clock is "unknown" (known() False)
# until the CSMS sets it. stamp() then returns a marker "@<boot token>:<seconds since boot>" instead of
# a time; fix(payload) turns the markers of a message into real times once the clock is known, and
# the outbox sends nothing that still carries one. A marker of an earlier boot (power cut before the
# clock was known) becomes the start of the current boot: the latest moment it can have happened,
# so it never precedes a later event.
import time

from micropython import const

UNIX = const(1735689600)  # 2025-01-01T00:00:00Z in Unix time: the zero of the clock's seconds
_DAYS = const(20089)  # the same in days since 1970-01-01
_FLOOR = const(0)  # 2025-01-01T00:00:00Z: an RTC showing less was not set since power-up

_rtc = time.time  # the board's RTC in port-epoch seconds (use() replaces it)
_rtc_set = None  # sets the board's RTC (port-epoch seconds), so a reset without power loss keeps the time
_offset = 0  # added to the RTC (moved to the clock's epoch) to get the time
_port_epoch = None
_known = False
_hooks = []  # type: list  # called once, when the CSMS's time first makes the clock known
_token = None
_last = time.ticks_ms()  # monotonic seconds since boot, from ticks (wrap-safe when read at least daily)
_s = 0
_ms = 0
_ct = None  # the second rfc3339() last formatted, and its text: stamps within one second share it
_cs = ""


def use(rtc=None, rtc_set=None):
    """Board adapters: rtc() -> port-epoch seconds, rtc_set(seconds) (both optional)."""
    global _rtc, _rtc_set
    if rtc is not None:
        _rtc = rtc
    _rtc_set = rtc_set


def _epoch():
    # the port's epoch in the clock's seconds (ESP32: 2000-01-01, Unix: 1970-01-01), both before UNIX
    global _port_epoch
    if _port_epoch is None:
        _port_epoch = (946684800 if time.gmtime(0)[0] == 2000 else 0) - UNIX
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
    """Whole seconds since 2025-01-01 UTC (UNIX; the raw RTC while the clock is unknown): a small int."""
    return int(_rtc()) + _epoch() + _offset


def mono():
    """Whole seconds since boot; never jumps. Kept as seconds plus ms so it stays a small int."""
    global _last, _s, _ms
    t = time.ticks_ms()
    _ms += time.ticks_diff(t, _last)
    _last = t
    if _ms >= 1000:
        _s += _ms // 1000
        _ms %= 1000
    return _s


def when_known(fn):
    """fn() runs in the same step that first sets the clock (before anything else can be stamped)."""
    _hooks.append(fn)


def known():
    """True once the CSMS set the clock, or the RTC kept a plausible time through the reset."""
    global _known
    if not _known and now() >= _FLOOR:
        _known = True
    return _known


def rfc3339(t=None):
    """The clock's seconds t (default now) as RFC 3339 UTC; the same second again costs no new string."""
    global _ct, _cs
    if t is None:
        t = now()
    if t != _ct:
        g = time.gmtime(t - _epoch())
        _cs = "%04d-%02d-%02dT%02d:%02d:%02dZ" % g[:6]
        _ct = t
    return _cs


def _boot():
    global _token
    if _token is None:
        import os

        _token = "%04x" % int.from_bytes(os.urandom(2), "big")
    return _token


def stamp():
    """Timestamp of something happening now: RFC 3339, or a marker while the clock is unknown."""
    if known():
        return rfc3339()
    return "@%s:%d" % (_boot(), mono())


def resolve(ts):
    """A timestamp or marker -> RFC 3339, or None while the clock is still unknown."""
    if ts[:1] != "@":
        return ts
    if not known():
        return None
    up = mono()
    tok, _, m = ts[1:].partition(":")
    ago = up - int(m) if tok == _boot() else up
    return rfc3339(now() - ago)


def fix(p):
    """Resolve the markers of a message payload in place (timestamp, meterValue[].timestamp);
    False when one is left because the clock is unknown."""
    ok = True
    mv = p.get("meterValue")
    for d in (p,) + (tuple(mv) if isinstance(mv, list) else ()):
        ts = d.get("timestamp") if isinstance(d, dict) else None
        if isinstance(ts, str) and ts[:1] == "@":
            r = resolve(ts)
            if r is None:
                ok = False
            else:
                d["timestamp"] = r
    return ok


def marked(p):
    """True when a payload carries a timestamp marker."""
    mv = p.get("meterValue")
    for d in (p,) + (tuple(mv) if isinstance(mv, list) else ()):
        ts = d.get("timestamp") if isinstance(d, dict) else None
        if isinstance(ts, str) and ts[:1] == "@":
            return True
    return False


def _num(s, i, n):
    # digits read one by one: validating a date-time must not allocate (a slice would)
    if i + n > len(s):
        raise ValueError("not a date-time: %r" % (s,))
    v = 0
    for k in range(i, i + n):
        c = ord(s[k]) - 48
        if not 0 <= c <= 9:
            raise ValueError("not a date-time: %r" % (s,))
        v = v * 10 + c
    return v


def parse(s, lenient=False):
    """RFC 3339 date-time -> the clock's seconds (since UNIX); ValueError when it is not one.
    lenient (a CSMS's currentTime, not a request we validate): also a space for "T", no seconds,
    "+hhmm" / "+hh" zones and no zone at all (taken as UTC)."""
    if not isinstance(s, str) or len(s) < (16 if lenient else 20) or s[4] != "-" or s[7] != "-":
        raise ValueError("not a date-time: %r" % (s,))
    if s[10] not in ("Tt " if lenient else "Tt") or s[13] != ":":
        raise ValueError("not a date-time: %r" % (s,))
    y, mo, d = _num(s, 0, 4), _num(s, 5, 2), _num(s, 8, 2)
    h, mi = _num(s, 11, 2), _num(s, 14, 2)
    i = 16
    se = 0
    if len(s) > 16 and s[16] == ":":
        se = _num(s, 17, 2)
        i = 19
    elif not lenient:
        raise ValueError("not a date-time: %r" % (s,))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("date-time out of range: %r" % (s,))
    if i < len(s) and s[i] in ".,":  # fraction: ignored, whole seconds are enough for OCPP
        i += 1
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
    z = len(s) - i  # the zone is s[i:], read in place
    off = 0
    if z == 1 and (s[i] == "Z" or s[i] == "z") or (lenient and z == 0):
        pass
    elif z and (s[i] == "+" or s[i] == "-") and (z == 6 and s[i + 3] == ":" or lenient and (z == 3 or z == 5)):
        off = (_num(s, i + 1, 2) * 60 + (_num(s, len(s) - 2, 2) if z > 3 else 0)) * 60
        if s[i] == "-":
            off = -off
    else:
        raise ValueError("bad time zone in %r" % (s,))
    return (_days(y, mo, d) - _DAYS) * 86400 + h * 3600 + mi * 60 + se - off


def set_from(s):
    """Set wall time from the CSMS's currentTime (parsed leniently). Returns the step in seconds."""
    global _offset, _known
    t = parse(s, True)
    step = t - now()
    _offset += step
    was = _known
    _known = True
    if _rtc_set is not None:
        try:
            _rtc_set(t - _epoch())
            _offset = 0
            _offset = t - now()  # whatever the RTC's resolution left over
        except Exception:  # an RTC we cannot set: the offset alone keeps the time
            pass
    if not was:
        for fn in _hooks:
            fn()
    return step
