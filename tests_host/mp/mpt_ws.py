# ws.py helpers (mask, handshake key, URL parsing, percent-encoding) and how frames are built.
import os

from mptest import eq, raises
from station.transport import ws

HEAP = "96K"


def test_mask_matches_the_byte_loop_for_every_length():  # heap: 512K
    key = os.urandom(4)
    for n in list(range(0, 40)) + [125, 126, 127, 255, 256, 257, 511, 512, 515, 4096, 65537]:
        data = os.urandom(n)
        want = bytes(data[i] ^ key[i & 3] for i in range(n))
        buf = bytearray(data)
        eq(ws.mask(buf, key) is buf, True)  # in place: no copy of the frame
        eq(bytes(buf), want)
    frame = bytearray(b"hd" + b"\x00" * 300)  # a payload inside a bigger buffer, as small frames are masked
    ws.mask(memoryview(frame)[2:], b"\x01\x02\x03\x04")
    eq(bytes(frame), b"hd" + b"\x01\x02\x03\x04" * 75)
    zeros = bytearray(300)
    eq(bytes(ws.mask(zeros, b"\x00\x00\x00\x00")), b"\x00" * 300)  # leading zeros kept
    eq(bytes(ws.mask(bytearray(b"\x00" * 260), b"\x01\x02\x03\x04")), b"\x01\x02\x03\x04" * 65)


def test_accept_key_rfc6455_example():
    eq(ws.accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")


def test_parse_url():
    eq(ws.parse_url("ws://h/ocpp"), (False, "h", 80, "/ocpp"))
    eq(ws.parse_url("wss://h:9443/a/b"), (True, "h", 9443, "/a/b"))
    eq(ws.parse_url("ws://127.0.0.1:9000"), (False, "127.0.0.1", 9000, "/"))
    eq(ws.parse_url("ws://[::1]:81/x"), (False, "::1", 81, "/x"))
    raises(ValueError, ws.parse_url, "http://h/")


def test_quote_station_id():
    eq(ws.quote("CS-01_a.b~"), "CS-01_a.b~")
    eq(ws.quote("CS 1/x:y%"), "CS%201%2Fx%3Ay%25")
    eq(ws.quote("Zähler"), "Z%C3%A4hler")


class Wire:
    # The StreamWriter side of a connection: what was written, frame by frame as the peer reads it.
    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b

    async def drain(self):
        pass

    def frames(self):
        out, d, i = [], self.data, 0
        while i < len(d):
            op, n, i = d[i], d[i + 1] & 0x7F, i + 2
            if n == 126:
                n, i = int.from_bytes(d[i : i + 2], "big"), i + 2
            elif n == 127:
                n, i = int.from_bytes(d[i : i + 8], "big"), i + 8
            key, i = bytes(d[i : i + 4]), i + 4
            out.append((op, bytes(ws.mask(d[i : i + n], key))))
            i += n
        return out



def _fragment():
    # Fill the free heap with 400-byte blocks and free every other one: holes of about 400 bytes, together
    # many KB. The caller keeps the list, so the heap stays in pieces.
    import gc

    keep = [None] * 4000
    gc.collect()
    i = 0
    try:
        while i < len(keep):
            keep[i] = bytearray(400)
            i += 1
    except MemoryError:
        pass
    for j in range(0, i, 2):
        keep[j] = None
    gc.collect()
    return keep

async def test_json_frames_of_every_length_class_carry_the_json_text():  # heap: 512K
    import json

    w = Wire()
    c = ws.WS(None, w, 100000, write_timeout_ms=0)
    msgs = [[2, "1", "Heartbeat", {}], [3, "x" * 114, {}], [3, "x" * 115, {}], [3, "y" * 1400, {}],
            [3, "z" * 1600, {}], [3, "w" * 70000, {}]]  # 125 / 126 bytes, in the buffer, over it, 64-bit length
    for m in msgs:
        await c.send_json(m)
        await c.send("after")  # a small frame built in the same buffer between two JSON ones
    got = w.frames()
    eq(len(got), 2 * len(msgs))
    for i, m in enumerate(msgs):
        eq(got[2 * i], (0x81, json.dumps(m).encode()))
        eq(got[2 * i + 1], (0x81, b"after"))
    eq([len(p) for _, p in got[2:6:2]], [125, 126])


async def test_json_text_is_valid_utf8_even_when_json_decoded_a_surrogate_pair():
    import json

    for pad in (0, 1600):  # in the frame buffer, and in a copy of its own
        w = Wire()
        c = ws.WS(None, w, 100000, write_timeout_ms=0)
        echoed = json.loads('["\\ud83d\\ude00", "\\ud7ff", "%s"]' % ("p" * pad))  # MicroPython: 2 surrogates
        await c.send_json([3, echoed[0], {"a": echoed[1]}])
        text = w.frames()[0][1].decode()  # would raise UnicodeError on a surrogate
        eq(text, '[3, "\ufffd\ufffd", {"a": "\ud7ff"}]')


async def test_a_json_message_goes_out_from_a_heap_with_no_free_block_its_size():
    # What an ESP32 lives through after days of uptime: plenty of free heap, in pieces. The text of a message
    # that fits the frame buffer is written straight into it, so sending needs only small blocks.
    import gc
    import json

    sent = []
    w = Wire()
    w.write = lambda b: sent.append(len(b))  # the socket takes the bytes as they are
    c = ws.WS(None, w, 100000, write_timeout_ms=0)
    m = [2, "42", "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": "2026-12-03T10:00:00Z", "sampledValue": [
        {"value": 230.1, "measurand": "Voltage", "phase": "L1-N"}] * 12}]}]
    n = len(json.dumps(m))
    eq(700 < n < 1536, True)  # a TransactionEvent-sized message
    await c.send_json(m)  # warm: the first send may allocate its asyncio bits
    keep = _fragment()  # noqa: F841 - held: the heap stays in pieces
    eq(gc.mem_free() > 4 * n, True)
    raises(MemoryError, json.dumps, m)  # no block for the text itself
    await c.send_json(m)
    eq(sent[-1], n + 4 + 4)  # header (4: 126..65535 bytes), key, text: one frame


async def test_the_next_connection_reuses_the_frame_buffer_of_the_last_one_that_ended():
    import json

    a = ws.WS(None, Wire(), 1000, write_timeout_ms=0)
    b = ws.WS(None, Wire(), 1000, write_timeout_ms=0)
    eq(a._buf is b._buf, False)  # two open connections never share it
    await a.send_json([2, "1", "Heartbeat", {}])
    a._gone()  # the connection ended (peer closed, read failed)
    c = ws.WS(None, Wire(), 1000, write_timeout_ms=0)
    eq(c._buf is a._buf, True)  # no new 1.5 KB block for the reconnect
    try:
        await a.send_json([2, "2", "Heartbeat", {}])  # the old one cannot touch it any more
        raise AssertionError("sent on an ended connection")
    except ws.Closed:
        pass
    w = Wire()
    d = ws.WS(None, w, 1000, write_timeout_ms=0)
    eq(d._buf is a._buf, False)  # taken by c
    await c.send_json([2, "3", "Heartbeat", {}])
    await d.send_json([2, "4", "Heartbeat", {}])
    eq(w.frames(), [(0x81, json.dumps([2, "4", "Heartbeat", {}]).encode())])


async def test_a_long_message_streams_through_the_buffer_valid_utf8_at_every_cut():  # heap: 256K
    # Longer than the frame buffer: the text is written and masked a bufferful at a time. A 3-byte sequence
    # _utf8 fixes may fall across the end of a bufferful: it is fixed whole wherever it falls.
    import json

    sur = json.loads('"\\ud83d\\ude00"')  # MicroPython: 2 surrogates, 3 bytes each
    for pad in range(1520, 1540):
        w = Wire()
        c = ws.WS(None, w, 100000, write_timeout_ms=0)
        m = [3, "p" * pad, sur * 3, "q" * 2000, sur]
        await c.send_json(m)
        await c.send(b"b" * 3000 + bytes(range(256)))  # a long binary-safe text frame, copied through too
        got = w.frames()
        eq(got[0][1].decode(), json.dumps([3, "p" * pad, "\ufffd" * 6, "q" * 2000, "\ufffd" * 2]))
        eq(got[1][1], b"b" * 3000 + bytes(range(256)))


async def test_a_4k_message_costs_a_fraction_of_its_size_and_needs_no_block_its_size():
    import gc
    import json

    from mptest import raises

    sent = []
    w = Wire()
    w.write = lambda b: sent.append(len(b))
    c = ws.WS(None, w, 100000, write_timeout_ms=0)
    m = [2, "42", "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": "2026-12-03T10:00:00Z",
         "sampledValue": [{"value": 230.1, "measurand": "Voltage", "phase": "L1-N"}] * 70}]}]
    n = len(json.dumps(m))
    eq(4000 < n < 4400, True)
    await c.send_json(m)  # warm
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    await c.send_json(m)
    cost = gc.mem_alloc() - a
    gc.enable()
    assert cost < n // 2, cost  # was 24 KB: a copy of the text, its bytes, a bytearray, big-int masking
    keep = _fragment()  # noqa: F841
    raises(MemoryError, json.dumps, m)  # no block for the text itself
    del sent[:]
    await c.send_json(m)
    eq(sum(sent), n + 4 + 4)
