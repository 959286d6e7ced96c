# Meter maps as data: decoding of each encoding, exact integer Wh, measurand lists, sampledValue shape.
import struct

from mptest import eq

from hw import meters

HEAP = "64K"
TIMEOUT = 20
# encodings as numbered in hw/meters.py (private consts are compiled away)
U16, S16, U32, S32, S32L, U64 = 1, 2, 3, 4, 5, 6


def _bits(f):
    return struct.unpack(">I", struct.pack(">f", f))[0]


def test_float32_kwh_to_integer_wh_is_exact():
    eq(meters._f32_wh(_bits(1.0)), 1000)
    eq(meters._f32_wh(_bits(0.0)), 0)
    eq(meters._f32_wh(_bits(0.5)), 500)
    eq(meters._f32_wh(_bits(-2.25)), -2250)
    # 12345.678 kWh as float32 is 12345.677734375 kWh exactly: 12345677.734375 Wh -> 12345678
    eq(meters._f32_wh(_bits(12345.678)), 12345678)
    # 16777216 kWh (2^24): beyond float32's integer range in Wh, still exact as an integer
    eq(meters._f32_wh(0x4B800000), 16777216000)
    eq(meters._f32_wh(0x7FC00000), None)  # NaN: no value
    eq(meters._f32_wh(0x7F800000), None)  # infinity
    eq(meters._f32_wh(1), 0)  # smallest subnormal rounds to 0 Wh


def test_integer_encodings():
    buf = bytes([0x12, 0x34, 0xFF, 0xFE, 0x00, 0x01, 0x00, 0x02])
    eq(meters._decode(buf, 0, U16, -10), 466.0)  # 0x1234 = 4660 -> 466.0
    eq(meters._decode(buf, 2, S16, -10), -0.2)
    eq(meters._decode(buf, 4, U32, 1), 0x00010002)
    eq(meters._decode(buf, 2, S32, 1), struct.unpack(">i", buf[2:6])[0])
    # low word first: words 0x0001, 0x0002 -> 0x00020001
    eq(meters._decode(buf, 4, S32L, 1), 0x00020001)
    neg = bytes([0xFF, 0xFF, 0xFF, 0xFF])  # -1 in both word orders
    eq(meters._decode(neg, 0, S32L, -10), -0.1)
    eq(meters._decode(bytes([0, 0, 0, 0, 0, 1, 0x86, 0xA0]), 0, U64, 10), 1000000)


def test_every_model_covers_the_five_measurands_with_units_and_phases():
    for model in ("SDM630", "SDM120", "B23", "EM340"):
        ms = meters.measurands(model)
        eq(sorted(ms), sorted(meters.NAMES))
        phases = [f[1] for f in meters.fields(model) if f[0] == "Voltage"]
        eq(phases, ["L1-N"] if model == "SDM120" else ["L1-N", "L2-N", "L3-N"])
        func, blocks, flds = meters.spec(model)
        for f in flds:  # every field lies inside its block
            eq(f[3] + (8 if f[4] == U64 else 2 if f[4] in (U16, S16) else 4)
               <= 2 * blocks[f[2]][1], True)
        eq(len(blocks) <= 2, True)


def test_sampled_filters_measurands_and_skips_missing_values():
    model = "SDM120"  # fields: V L1-N, I L1, P, Hz, Wh
    wanted = ("Energy.Active.Import.Register", "Voltage")
    sv = meters.sampled(model, (230.1, 10.5, 2400.0, 50.0, 1234), wanted, "Trigger")
    eq(sv, [
        {"value": 230.1, "measurand": "Voltage", "unitOfMeasure": {"unit": "V"}, "phase": "L1-N", "context": "Trigger"},
        {"value": 1234, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"},
         "context": "Trigger"},
    ])
    eq(meters.sampled(model, (None, None, None, None, None), meters.NAMES), [])


def test_unknown_model_is_a_value_error():
    try:
        meters.spec("SDM999")
    except ValueError:
        return
    raise AssertionError("no ValueError")
