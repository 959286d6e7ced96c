# RS485 turnaround: the master drops driver-enable (DE) once the request's last byte is out, without
# letting another task run in between, even when that task holds the loop. Checked by the order of
# events on one list, not by time windows: a meter answers 3.5 characters after our last byte, and
# DE still driven then collides with its reply.
import asyncio
import time

from mptest import eq

from station.hw import modbus

HEAP = "64K"
TIMEOUT = 20

EV = []


class Uart:
    """Bus stand-in: txdone() only once the frame's wire time has passed (never if stuck); the
    meter's answer arrives 3.5 characters (4 ms) after the bus was released (de0)."""

    def __init__(self, wire_ms, stuck=False):
        self.wire_ms = wire_ms
        self.stuck = stuck
        self.end = None
        self.told = False
        self.t_tx = None
        self.reply = b""
        self.released = None

    def write(self, buf):
        EV.append("tx")
        self.t_tx = time.ticks_ms()
        self.end = time.ticks_add(self.t_tx, self.wire_ms)
        self.released = None
        self.told = False
        # a normal answer to the request: 2 * count data bytes 0, 1, 2, ...
        n = 2 * buf[5]
        body = bytearray([buf[0], buf[1], n]) + bytes(range(n))
        c = modbus.crc16(body, len(body))
        self.reply = bytes(body) + bytes([c & 0xFF, c >> 8])
        return len(buf)

    def txdone(self):
        if self.stuck or self.end is None or time.ticks_diff(time.ticks_ms(), self.end) < 0:
            return False
        if not self.told:
            self.told = True
            EV.append("txdone")
        return True

    def readinto(self, buf):
        if self.released is None or time.ticks_diff(time.ticks_ms(), self.released) < 4 or not self.reply:
            return None
        n = min(len(buf), len(self.reply))
        buf[:n] = self.reply[:n]
        self.reply = self.reply[n:]
        return n


class DE:
    def __init__(self, uart):
        self.uart = uart
        self.t_low = None

    def value(self, v):
        EV.append("de%d" % v)
        if not v:
            self.t_low = time.ticks_ms()
            self.uart.released = self.t_low


async def _hog(stop):
    # Another task that is always ready and holds the loop for a while each time it runs.
    while not stop[0]:
        EV.append("hog")
        time.sleep_ms(15)
        await asyncio.sleep_ms(0)


async def _transaction(stuck):
    uart = Uart(wire_ms=9, stuck=stuck)  # 8 bytes at 9600 baud: 8.3 ms
    de = DE(uart)
    m = modbus.Master(uart, 9600, de, timeout_ms=200, retries=0)
    EV.clear()
    stop = [False]
    t = asyncio.create_task(_hog(stop))
    await asyncio.sleep_ms(0)  # the hog is running before the transaction starts
    data = await m.read(1, 4, 0, 2)
    stop[0] = True
    await t
    eq(bytes(data), bytes([0, 1, 2, 3]))  # the answer is read after the turnaround
    return uart, de


async def test_de_drops_after_the_last_byte_before_any_other_task_runs():
    uart, de = await _transaction(stuck=False)
    i = EV.index("tx")
    eq(EV[i - 1 : i + 3], ["de1", "tx", "txdone", "de0"])
    eq(EV.count("de0"), 1)
    # the hog was ready all along: it ran before the request and again while we waited for the answer
    eq("hog" in EV[:i], True)
    eq("hog" in EV[i + 3 :], True)


async def test_de_drops_by_deadline_when_txdone_never_reports_done():
    uart, de = await _transaction(stuck=True)
    i = EV.index("tx")
    eq(EV[i - 1 : i + 2], ["de1", "tx", "de0"])  # no hog in between, no txdone ever
    waited = time.ticks_diff(de.t_low, uart.t_tx)
    # held for at least the frame's wire time, so the last byte is out; bounded, not a hang
    assert uart.wire_ms - 1 <= waited < 100, waited
