# ws.py helpers: mask, handshake key, URL parsing, percent-encoding.
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
