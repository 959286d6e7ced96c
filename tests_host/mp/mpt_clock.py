from station import clock
from mptest import alloc, eq, raises

HEAP = "32K"


def test_format_known_instants():
    u = clock.UNIX  # the clock counts from 2025-01-01: Unix times minus UNIX
    eq(clock.rfc3339(0), "2025-01-01T00:00:00Z")
    eq(clock.rfc3339(0 - u), "1970-01-01T00:00:00Z")
    eq(clock.rfc3339(1767261600 - u), "2026-01-01T10:00:00Z")
    eq(clock.rfc3339(951782400 - u), "2000-02-29T00:00:00Z")


def test_parse_round_trip_and_zones():
    u = clock.UNIX
    for t in (0, 951782400, 1767261600, 4102444799):
        eq(clock.parse(clock.rfc3339(t - u)), t - u)
    eq(clock.parse("2026-01-01T10:00:00.123Z"), 1767261600 - u)
    eq(clock.parse("2026-01-01T12:00:00+02:00"), 1767261600 - u)
    eq(clock.parse("2026-01-01T05:30:00-04:30"), 1767261600 - u)


def test_times_stay_small_ints_on_an_esp32_until_2059():
    # an ESP32's small int is 31-bit signed: a bigger time would be a heap object on every clock.now()
    for s in ("1991-01-01T00:00:00Z", "2026-12-01T10:00:00Z", "2059-01-01T00:00:00Z"):
        assert -1073741824 <= clock.parse(s) <= 1073741823, s
    t = clock.parse("2026-12-01T10:00:00Z") - clock._epoch()  # what an ESP32's RTC says then (an int)
    clock.use(lambda: t)
    clock._offset = 0
    eq(clock.now(), clock.parse("2026-12-01T10:00:00Z"))
    eq(alloc(clock.now), 0)
    eq(alloc(clock.stamp), 0)  # the same second again: the same string
    eq(clock.stamp(), "2026-12-01T10:00:00Z")


def test_parse_rejects_garbage():
    for s in ("", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T10:00:00", "2026-01-01 10:00:00Z", 5):
        raises(ValueError, clock.parse, s)


def test_set_from_csms_time():
    clock.set_from("2031-05-06T07:08:09Z")
    t = clock.now()
    assert clock.parse("2031-05-06T07:08:09Z") <= t <= clock.parse("2031-05-06T07:08:11Z")
    assert clock.rfc3339().startswith("2031-05-06T07:08:")


def test_csms_quirks_in_current_time_are_read_leniently():
    t = 1767261600 - clock.UNIX
    for s in ("2026-01-01 10:00:00Z", "2026-01-01T10:00:00", "2026-01-01T10:00:00.123456+0000",
              "2026-01-01T12:00:00+02", "2026-01-01T10:00Z", "2026-01-01t10:00:00,5z"):
        eq(clock.parse(s, True), t)
    for s in ("2026-01-01T10:00:00", "2026-01-01 10:00:00Z", "2026-01-01T10:00:00+0000"):
        raises(ValueError, clock.parse, s)  # requests from the CSMS are still checked strictly
    raises(ValueError, clock.parse, "not a time at all", True)


def _rtc_at_2000():
    # An ESP32 after power loss: its RTC restarts at 2000-01-01 (port-epoch seconds on this port).
    t0 = clock.parse("2000-01-01T00:00:00Z") - clock._epoch()
    clock.use(lambda: t0)
    clock._known = False
    clock._offset = 0


def test_unknown_clock_stamps_markers_that_resolve_once_set():
    _rtc_at_2000()
    assert not clock.known()
    ts = clock.stamp()
    assert ts.startswith("@"), ts
    p = {"timestamp": ts, "meterValue": [{"timestamp": ts, "sampledValue": []}]}
    assert clock.marked(p)
    assert not clock.fix(p)  # unknown: stays a marker, the outbox holds the message
    eq(p["timestamp"], ts)
    clock.set_from("2031-05-06T07:08:09Z")
    assert clock.known()
    assert clock.fix(p)
    t = clock.parse(p["timestamp"])
    assert clock.parse("2031-05-06T07:08:00Z") <= t <= clock.parse("2031-05-06T07:08:09Z"), p
    eq(p["meterValue"][0]["timestamp"], p["timestamp"])
    assert not clock.marked(p)
    assert clock.stamp().startswith("2031-05-06T07:08:")


def test_marker_of_an_earlier_boot_becomes_this_boots_start():
    _rtc_at_2000()
    old = "@zzzz:12345"  # another boot's token: it happened before this boot started
    clock.set_from("2031-05-06T07:08:09Z")
    t = clock.parse(clock.resolve(old))
    eq(t, clock.now() - clock.mono())


def test_mono_is_small_and_steady():
    a = clock.mono()
    b = clock.mono()
    assert 0 <= a <= b < 1 << 29
