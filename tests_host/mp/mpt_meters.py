# Meter maps as data: decoding of each encoding, exact integer Wh, measurand lists, sampledValue shape.
import struct

from mptest import eq

from station.hw import meters

HEAP = "64K"
TIMEOUT = 20
# encodings as numbered in hw/meters.py (private consts are compiled away)
F32, U16, S16, U32, S32, S32L, U64 = 0, 1, 2, 3, 4, 5, 6
# float32 bit patterns that are not numbers: +Inf, -Inf, quiet NaN, negative NaN, signalling NaN
NON_FINITE = (0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001)


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


class BlockMaster:
    """Serves each block of a float32 model with 1.0 everywhere except one field's raw bits."""

    def __init__(self, model, field, bits):
        self.func, self.blocks, self.flds = meters.spec(model)
        self.field = field
        self.bits = bits

    async def read(self, unit, func, start, count, retries=None):
        buf = bytearray(2 * count)
        bi = [b[0] for b in self.blocks].index(start)
        for i in range(len(self.flds)):
            f = self.flds[i]
            if f[2] == bi:
                struct.pack_into(">I", buf, f[3], self.bits if i == self.field else _bits(1.0))
        return memoryview(buf)


async def test_non_finite_float32_is_no_value_for_every_quantity():
    import json

    for bits in NON_FINITE:
        raw = struct.pack(">I", bits)
        eq(meters._decode(raw, 0, F32, -1), None)  # power, voltage, current, frequency
        eq(meters._decode(raw, 0, F32, 1000), None)  # energy (kWh -> Wh)
        for model in ("SDM630", "SDM120"):
            flds = meters.fields(model)
            for i in range(len(flds)):
                r = await meters.read(BlockMaster(model, i, bits), model, 1)
                v = meters.values(model, r)
                eq(v[i], None)
                eq([j for j in range(len(v)) if v[j] is None], [i])
                sv = meters.sampled(model, r, meters.NAMES)
                eq(len(sv), len(flds) - 1)  # that measurand (and phase) is left out
                eq([(s["measurand"], s.get("phase")) for s in sv].count(flds[i][:2]), 0)
                js = json.dumps(sv)
                eq("inf" in js or "nan" in js, False)


def test_largest_finite_float32_stays_a_finite_number():
    # 3.4e38: rounding to 3 decimals multiplies by 1000 first, which overflows a single-precision
    # float (the ESP32's) to inf; such magnitudes have no decimals in a float32 anyway.
    big = struct.pack(">I", 0x7F7FFFFF)
    v = meters._decode(big, 0, F32, -1)
    eq(v, struct.unpack(">f", big)[0])
    eq(meters._decode(struct.pack(">I", 0xFF7FFFFF), 0, F32, -1), -v)
    eq(meters._decode(struct.pack(">f", 230.1), 0, F32, -1), 230.1)  # small values still rounded


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


def test_integer_encodings_give_finite_numbers_at_their_extremes():
    for raw in (b"\xff" * 8, b"\x80" + b"\x00" * 7, b"\x7f" + b"\xff" * 7):
        for typ in (U16, S16, U32, S32, S32L, U64):
            for scale in (1, 10, 100, -10, -100, -1000):
                v = meters._decode(raw, 0, typ, scale)
                eq(v - v, 0)  # inf - inf and nan - nan are nan


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
    raw = bytearray(meters.size(model))  # the registers as the SDM120 gives them: float32, energy in kWh
    for off, v in ((0, 230.1), (12, 10.5), (24, 2400.0), (28, 50.0), (32, 1.234)):
        struct.pack_into(">f", raw, off, v)
    sv = meters.sampled(model, raw, wanted, "Trigger")
    eq(sv, [
        {"value": 230.1, "measurand": "Voltage", "unitOfMeasure": {"unit": "V"}, "phase": "L1-N", "context": "Trigger"},
        {"value": 1234, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"},
         "context": "Trigger"},
    ])
    eq(meters.values(model, raw), (230.1, 10.5, 2400.0, 50.0, 1234))
    nan = struct.pack(">I", 0x7FC00000) * (len(raw) // 4)  # a meter with no values at all
    eq(meters.sampled(model, nan, meters.NAMES), [])


def test_unknown_model_is_a_value_error():
    try:
        meters.spec("SDM999")
    except ValueError:
        return
    raise AssertionError("no ValueError")
