import clock
from mptest import eq, raises

HEAP = "32K"


def test_format_known_instants():
    eq(clock.rfc3339(0), "1970-01-01T00:00:00Z")
    eq(clock.rfc3339(1767261600), "2026-01-01T10:00:00Z")
    eq(clock.rfc3339(951782400), "2000-02-29T00:00:00Z")


def test_parse_round_trip_and_zones():
    for t in (0, 951782400, 1767261600, 4102444799):
        eq(clock.parse(clock.rfc3339(t)), t)
    eq(clock.parse("2026-01-01T10:00:00.123Z"), 1767261600)
    eq(clock.parse("2026-01-01T12:00:00+02:00"), 1767261600)
    eq(clock.parse("2026-01-01T05:30:00-04:30"), 1767261600)


def test_parse_rejects_garbage():
    for s in ("", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T10:00:00", "2026-01-01 10:00:00Z", 5):
        raises(ValueError, clock.parse, s)


def test_set_from_csms_time():
    clock.set_from("2031-05-06T07:08:09Z")
    t = clock.now()
    assert clock.parse("2031-05-06T07:08:09Z") <= t <= clock.parse("2031-05-06T07:08:11Z")
    assert clock.rfc3339().startswith("2031-05-06T07:08:")
