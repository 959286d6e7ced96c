# Modbus RTU master for reading meters: functions 0x03 (holding) and 0x04 (input registers).
# One Master per RS485 bus; its lock serialises transactions, so several tasks may share it.
# Waiting for an answer never blocks the event loop: the UART adapter's readinto() is non-blocking and
# we sleep between polls (see hw/__init__.py for the adapter contract). The one blocking stretch is the
# RS485 turnaround after each request (the frame's wire time, see _once).
import asyncio
import time

from micropython import const

_MAX_REGS = const(125)  # Modbus limit for 0x03/0x04
_RX_LEN = const(255)  # 5 + 2 * 125: the longest reply
_TX_LEN = const(8)
_DE_MARGIN_MS = const(2)  # ticks_ms granularity (1 ms) plus the UART's start-up after write()

# Exception codes worth naming in logs (the rest print as numbers).
ILLEGAL_FUNCTION = const(1)
ILLEGAL_ADDRESS = const(2)
ILLEGAL_VALUE = const(3)
DEVICE_FAILURE = const(4)


class ModbusError(Exception):
    """Base of every error the master raises; the caller handles these, they are not bugs."""


class Timeout(ModbusError):
    """No (complete) answer within the response timeout: meter off, unplugged, wrong unit id."""


class BadFrame(ModbusError):
    """An answer arrived but is corrupt: CRC, unit id, function code or byte count wrong."""


class ExceptionReply(ModbusError):
    """The meter answered with an exception response (function code | 0x80)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


_table = None


def _crc_table():
    # Built on first use (not at import): 512 bytes, ~7x faster than the bitwise loop (tools/bench/modbus.py).
    global _table
    if _table is None:
        from array import array

        t = array("H", bytes(512))
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
            t[i] = c
        _table = t
    return _table


def crc16(buf, n):
    """CRC-16/MODBUS of buf[:n] (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    t = _table or _crc_table()
    c = 0xFFFF
    for i in range(n):
        c = (c >> 8) ^ t[(c ^ buf[i]) & 0xFF]
    return c



class Master:
    def __init__(self, uart, baud=9600, de=None, timeout_ms=300, retries=2):
        # uart, de: adapters (hw/__init__.py). timeout_ms: from the end of our request to the first byte
        # of the answer. retries: extra attempts after a timeout or a corrupt answer (not after an
        # exception response: the meter has spoken).
        self._u = uart
        self._de = de
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.baud = baud
        self._char_us = 10000000 // baud  # 8N1: 10 bits per character on the wire
        # 3.5 character times of silence between frames (11-bit characters as the spec counts them);
        # the spec fixes 1.75 ms above 19200 baud, 2 ms covers that with ticks_ms resolution.
        self._t35 = max(2, (35 * 11000000 // baud + 9999) // 10000)
        self._tx = bytearray(_TX_LEN)
        self._rx = bytearray(_RX_LEN)
        self._mv = memoryview(self._rx)
        self._quiet = time.ticks_ms()  # when the bus last went quiet
        self._lock = asyncio.Lock()
        if de:
            de.value(0)
        # Counters for diagnostics and the benchmark.
        self.requests = 0
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.errors = 0

    def wire_ms(self, nbytes):
        """Time nbytes take on the wire at this bus's baud (8N1)."""
        return (nbytes * self._char_us + 999) // 1000

    async def read(self, unit, func, addr, count, retries=None):
        """Read count registers; returns a memoryview of the 2*count data bytes (big-endian words).

        The view points into the master's reused buffer: decode it before the next read.
        Raises ExceptionReply, Timeout or BadFrame (after the retries), ValueError for a bad request.
        """
        if func not in (3, 4) or not 1 <= count <= _MAX_REGS or not 0 <= addr <= 0xFFFF or not 1 <= unit <= 247:
            raise ValueError("bad request")
        left = self.retries if retries is None else retries
        async with self._lock:
            while True:
                try:
                    return await self._once(unit, func, addr, count)
                except ExceptionReply:
                    self.errors += 1
                    raise
                except ModbusError:
                    self.errors += 1
                    if left <= 0:
                        raise
                    left -= 1

    def _drop_input(self):
        # Bytes left over from an earlier, timed-out answer would be taken for the next reply.
        for _ in range(8):
            if not self._u.readinto(self._rx):
                return

    async def _once(self, unit, func, addr, count):
        u = self._u
        tx = self._tx
        tx[0] = unit
        tx[1] = func
        tx[2] = addr >> 8
        tx[3] = addr & 0xFF
        tx[4] = count >> 8
        tx[5] = count & 0xFF
        c = crc16(tx, 6)
        tx[6] = c & 0xFF
        tx[7] = c >> 8
        wait = self._t35 - time.ticks_diff(time.ticks_ms(), self._quiet)
        if wait > 0:
            await asyncio.sleep_ms(wait)
        self._drop_input()
        de = self._de
        if de:
            de.value(1)
        u.write(tx)
        self.requests += 1
        self.tx_bytes += _TX_LEN
        wire = self.wire_ms(_TX_LEN)
        if de:
            # Turnaround by deadline, with no await until DE is low: the meter answers 3.5 characters
            # after our last byte, and a task holding the loop for a few ms would keep the driver on
            # into its reply. So the loop blocks for the frame's wire time (8 bytes at 9600 baud:
            # ~8.3 ms). The deadline bounds the spin when a UART never reports done.
            end = time.ticks_add(time.ticks_ms(), wire + _DE_MARGIN_MS)
            while not u.txdone() and time.ticks_diff(end, time.ticks_ms()) > 0:
                pass
            de.value(0)
            sent = time.ticks_ms()
        else:
            # No driver to release (auto-direction transceiver, pty): nothing to wait for; the answer
            # timeout counts from when the frame will have left.
            sent = time.ticks_add(time.ticks_ms(), wire)
        self._quiet = sent
        need = 5 + 2 * count
        limit = self.timeout_ms + self.wire_ms(need)
        rx = self._rx
        mv = self._mv
        xfunc = func | 0x80
        n = 0
        try:
            while n < need:
                k = u.readinto(mv[n:need])
                now = time.ticks_ms()
                if k:
                    n += k
                    if n >= 2 and rx[1] & 0x80:
                        need = 5  # exception reply: unit, function|0x80, code, CRC
                    elif n >= 3 and rx[2] != 2 * count and 5 + rx[2] <= _RX_LEN:
                        need = 5 + rx[2]  # wrong byte count: take the frame it announces, then refuse it
                    continue
                if time.ticks_diff(now, sent) >= limit:
                    raise Timeout("no answer" if n == 0 else "incomplete answer")
                # Poll again after the time the missing bytes need on the wire (at least 1 ms).
                await asyncio.sleep_ms(max(1, min(20, (need - n) * self._char_us // 1000)))
        finally:
            self.rx_bytes += n
            self._quiet = time.ticks_ms()
        n = min(n, need)  # an exception reply is shorter than the normal one we asked for
        c = crc16(rx, n - 2)
        if rx[n - 2] != c & 0xFF or rx[n - 1] != c >> 8:
            raise BadFrame("CRC")
        if rx[0] != unit:
            raise BadFrame("unit %d answered" % rx[0])
        if rx[1] == xfunc:
            raise ExceptionReply(rx[2])
        if rx[1] != func or rx[2] != 2 * count:
            raise BadFrame("function/byte count")
        return mv[3 : 3 + 2 * count]
