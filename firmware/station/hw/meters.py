# Energy meter models as data: which register blocks to read and how each quantity is encoded there.
# Adding a model means adding a table entry, not code. A reading is the raw bytes of the model's register
# blocks, one after the other (size(model) bytes, kept in a buffer the poller reuses): values are decoded only
# when a message needs them (sampled()), so the poll every second makes no objects that stay around.
import struct

from micropython import const

# Measurands (OCPP MeasurandEnumType) and their units, indexed by the M_* numbers used in the tables.
NAMES = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "Frequency")
UNITS = ("Wh", "W", "A", "V", "Hz")
_E = const(0)
_P = const(1)
_I = const(2)
_V = const(3)
_HZ = const(4)

# Encodings of one quantity inside a block.
_F32 = const(0)  # IEEE-754 float32, high word first (Eastron)
_U16 = const(1)
_S16 = const(2)
_U32 = const(3)  # high word first
_S32 = const(4)  # high word first
_S32L = const(5)  # low word first (Carlo Gavazzi)
_U64 = const(6)  # high word first

# scale > 0: integer value = raw * scale (energy in Wh stays an exact integer);
# scale < 0: value = raw / -scale; for _F32 energy, scale 1000 converts kWh to Wh exactly (see _f32_wh).
#
# model: (function code, ((start, count), ...) blocks, ((measurand, phase, block, byte offset, type, scale), ...))
MODELS = {
    # Eastron SDM630: three-phase. Block 0: V, I, P per phase (0x0000..0x0011); block 1: total power,
    # frequency, import energy (0x0034..0x0049). 2 transactions; one 74-register read would also work
    # but puts 48 more bytes on the wire than it saves in request overhead.
    "SDM630": (
        4,
        ((0x0000, 18), (0x0034, 22)),
        (
            (_V, "L1-N", 0, 0, _F32, -1),
            (_V, "L2-N", 0, 4, _F32, -1),
            (_V, "L3-N", 0, 8, _F32, -1),
            (_I, "L1", 0, 12, _F32, -1),
            (_I, "L2", 0, 16, _F32, -1),
            (_I, "L3", 0, 20, _F32, -1),
            (_P, "L1", 0, 24, _F32, -1),
            (_P, "L2", 0, 28, _F32, -1),
            (_P, "L3", 0, 32, _F32, -1),
            (_P, None, 1, 0, _F32, -1),
            (_HZ, None, 1, 36, _F32, -1),
            (_E, None, 1, 40, _F32, 1000),
        ),
    ),
    # Eastron SDM120: single phase, same addresses for L1; total power is the L1 power register.
    "SDM120": (
        4,
        ((0x0000, 14), (0x0046, 4)),
        (
            (_V, "L1-N", 0, 0, _F32, -1),
            (_I, "L1", 0, 12, _F32, -1),
            (_P, None, 0, 24, _F32, -1),
            (_HZ, None, 1, 0, _F32, -1),
            (_E, None, 1, 4, _F32, 1000),
        ),
    ),
    # ABB B23: holding registers, big-endian scaled integers. Block 0 is 0x5B00..0x5B2C.
    "B23": (
        3,
        ((0x5B00, 45), (0x5000, 4)),
        (
            (_V, "L1-N", 0, 0, _U32, -10),
            (_V, "L2-N", 0, 4, _U32, -10),
            (_V, "L3-N", 0, 8, _U32, -10),
            (_I, "L1", 0, 24, _U32, -100),
            (_I, "L2", 0, 28, _U32, -100),
            (_I, "L3", 0, 32, _U32, -100),
            (_P, None, 0, 40, _S32, -100),
            (_P, "L1", 0, 44, _S32, -100),
            (_P, "L2", 0, 48, _S32, -100),
            (_P, "L3", 0, 52, _S32, -100),
            (_HZ, None, 0, 88, _U16, -100),
            (_E, None, 1, 0, _U64, 10),  # 0.01 kWh
        ),
    ),
    # Carlo Gavazzi EM340: INT32 low word first; everything fits one read of 0x0000..0x0035.
    "EM340": (
        4,
        ((0x0000, 54),),
        (
            (_V, "L1-N", 0, 0, _S32L, -10),
            (_V, "L2-N", 0, 4, _S32L, -10),
            (_V, "L3-N", 0, 8, _S32L, -10),
            (_I, "L1", 0, 24, _S32L, -1000),
            (_I, "L2", 0, 28, _S32L, -1000),
            (_I, "L3", 0, 32, _S32L, -1000),
            (_P, "L1", 0, 36, _S32L, -10),
            (_P, "L2", 0, 40, _S32L, -10),
            (_P, "L3", 0, 44, _S32L, -10),
            (_P, None, 0, 80, _S32L, -10),
            (_HZ, None, 0, 102, _S16, -10),
            (_E, None, 0, 104, _S32L, 100),  # 0.1 kWh
        ),
    ),
}


def spec(model):
    """(function, blocks, fields) of a model; ValueError for an unknown name (a configuration error)."""
    s = MODELS.get(model)
    if s is None:
        raise ValueError("unknown meter model " + str(model))
    return s


def measurands(model):
    """OCPP measurand names this model can deliver (the device model refuses the others)."""
    out = []
    for f in spec(model)[2]:
        n = NAMES[f[0]]
        if n not in out:
            out.append(n)
    return tuple(out)


def fields(model):
    """[(measurand, phase or None, unit), ...] in the order of a reading's values."""
    return [(NAMES[f[0]], f[1], UNITS[f[0]]) for f in spec(model)[2]]


def _f32_wh(b):
    # kWh float32 (as its 32 bits) -> integer Wh without going through a float: the ESP32's floats are
    # single precision, and 12345.678 kWh * 1000 there would lose the last Wh digits.
    e = (b >> 23) & 0xFF
    m = b & 0x7FFFFF
    if e == 0xFF:
        return None  # NaN or infinity: the meter has no value
    if e:
        m |= 0x800000
    else:
        e = 1
    v = m * 1000
    sh = e - 150  # value = m * 2^(e - 127 - 23)
    if sh >= 0:
        v <<= sh
    else:
        v = (v + (1 << (-sh - 1))) >> -sh  # round half up
    return -v if b >> 31 else v


def _decode(buf, off, typ, scale):
    if typ == _F32:
        b = struct.unpack_from(">I", buf, off)[0]
        if scale == 1000:
            return _f32_wh(b)
        if (b >> 23) & 0xFF == 0xFF:
            return None  # NaN or +-infinity is no reading (and inf is not JSON)
        v = struct.unpack_from(">f", buf, off)[0]
        # From 2^23 up a float32 has no fraction to round, and round(v, 3) computes v * 1000, which a
        # single-precision float (the ESP32's) overflows to inf near the float32 maximum.
        return round(v, 3) if -8388608.0 < v < 8388608.0 else v
    if typ == _U16:
        raw = struct.unpack_from(">H", buf, off)[0]
    elif typ == _S16:
        raw = struct.unpack_from(">h", buf, off)[0]
    elif typ == _U32:
        raw = struct.unpack_from(">I", buf, off)[0]
    elif typ == _S32:
        raw = struct.unpack_from(">i", buf, off)[0]
    elif typ == _S32L:
        lo, hi = struct.unpack_from(">Hh", buf, off)
        raw = (hi << 16) | lo
    else:
        raw = struct.unpack_from(">Q", buf, off)[0]
    if scale > 0:
        return raw * scale
    # below 2^64 / 10, even times 1000 inside round(), a float stays finite (float32 ends at 3.4e38)
    return round(raw / -scale, 3)


def size(model):
    """Bytes of one reading: every block's registers, in table order."""
    return sum(c for _, c in spec(model)[1]) * 2


def _field(raw, blocks, f):
    # the value of field f of a reading: its block's byte offset inside the reading, plus its own
    return _decode(raw, sum(blocks[i][1] for i in range(f[2])) * 2 + f[3], f[4], f[5])


async def read(master, model, unit, retries=None, into=None):
    """Read one meter with the model's block reads into the buffer into (size(model) bytes, new if None);
    returns it. Raises hw.modbus errors (the caller decides what a failed meter means); into may then hold
    part of a reading."""
    func, blocks, _ = spec(model)
    if into is None:
        into = bytearray(size(model))
    off = 0
    for start, count in blocks:
        data = await master.read(unit, func, start, count, retries)
        into[off : off + 2 * count] = data  # data lives in the master's reused buffer
        off += 2 * count
    return into


def values(model, raw):
    """A reading decoded: a tuple in the order of fields(model) (None where the meter has no value)."""
    _, blocks, flds = spec(model)
    return tuple(_field(raw, blocks, f) for f in flds)


def sampled(model, raw, wanted, context=None):
    """OCPP sampledValue list for the measurands in wanted (names) from one reading."""
    out = []
    _, blocks, flds = spec(model)
    for i in range(len(flds)):
        f = flds[i]
        name = NAMES[f[0]]
        if name not in wanted:
            continue
        v = _field(raw, blocks, f)
        if v is None:
            continue
        sv = {"value": v, "measurand": name, "unitOfMeasure": {"unit": UNITS[f[0]]}}
        if f[1]:
            sv["phase"] = f[1]
        if context:
            sv["context"] = context
        out.append(sv)
    return out
