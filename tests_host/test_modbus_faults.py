"""Broken answers pymodbus will not produce, from a scripted device on a real pty: the master under the
Unix port must refuse each one with the right error, keep the loop running and recover on the next read."""

import json
import os
import threading
import tty

import pytest
from mpharness import run_mp

from boards.host.sim import meters


def crc(data):
    c = meters._crc(data)  # CRC-16/MODBUS, low byte first on the wire
    return bytes([c & 0xFF, c >> 8])


def frame(body):
    return body + crc(body)


def good(req):
    n = req[5]
    return frame(bytes([req[0], req[1], 2 * n]) + bytes(range(2 * n)))


class Device:
    """Answers each 8-byte request with the next scripted reply (a function of the request, or None: silent)."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.requests = []
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        buf = b""
        while True:
            try:
                buf += os.read(self.master, 64)
            except OSError:
                return
            while len(buf) >= 8:
                req, buf = buf[:8], buf[8:]
                self.requests.append(req)
                fn = self.replies.pop(0) if self.replies else good
                out = fn(req) if fn else None
                if out:
                    os.write(self.master, out)

    def close(self):
        os.close(self.master)
        os.close(self.slave)


SCRIPT = r"""
import asyncio, json
import station_board as board
from station.hw import modbus
a = json.loads(%r)
b = board.make({"dir": "/tmp", "uart": a["path"]})
m = modbus.Master(b.uart, timeout_ms=150, retries=a["retries"])

async def main():
    for i in range(a["reads"]):
        try:
            d = await m.read(1, 4, 0, 2)
            print("OK", bytes(d).hex())
        except modbus.ModbusError as e:
            print("ERR", type(e).__name__, e)
    print("DONE")

asyncio.run(main())
"""


def run(replies, reads=2, retries=0):
    dev = Device(replies)
    try:
        rc, out = run_mp(["-c", SCRIPT % json.dumps({"path": dev.path, "reads": reads, "retries": retries})])
    finally:
        dev.close()
    assert rc == 0 and "DONE" in out, out
    return [ln for ln in out.splitlines() if ln.startswith(("OK", "ERR"))], dev


@pytest.mark.parametrize(
    "reply,error",
    [
        (lambda r: frame(bytes([2, 4, 4, 0, 1, 2, 3])), "BadFrame unit 2 answered"),
        (lambda r: frame(bytes([1, 3, 4, 0, 1, 2, 3])), "BadFrame function/byte count"),
        (lambda r: frame(bytes([1, 4, 2, 0, 1])), "BadFrame function/byte count"),  # 1 register, not 2
        (lambda r: frame(bytes([1, 4, 6, 0, 1, 2, 3, 4, 5])), "BadFrame function/byte count"),  # 3 registers
        (lambda r: good(r)[:5], "Timeout incomplete answer"),  # cut off mid-frame
        (lambda r: good(r)[:-1] + b"\x00", "BadFrame CRC"),
        (lambda r: frame(bytes([1, 0x84, 0x06])), "ExceptionReply 6"),  # slave busy
        (lambda r: frame(bytes([1, 0x83, 0x02])), "BadFrame function/byte count"),  # exception for another function
    ],
)
def test_broken_answer_is_refused_and_the_next_read_works(reply, error):
    lines, dev = run([reply, good])
    assert lines == ["ERR " + error, "OK 00010203"]


def test_garbage_left_after_an_answer_is_not_taken_for_the_next_one():
    # line noise that arrived after the last answer is dropped before the next request goes out
    lines, dev = run([lambda r: good(r) + b"\x55\xaa\x55", good])
    assert lines == ["OK 00010203", "OK 00010203"]


def test_retry_after_a_corrupt_answer_succeeds():
    lines, dev = run([lambda r: good(r)[:-1] + b"\x00", good], reads=1, retries=1)
    assert lines == ["OK 00010203"]
    assert len(dev.requests) == 2 and dev.requests[0] == dev.requests[1] == frame(bytes([1, 4, 0, 0, 0, 2]))
