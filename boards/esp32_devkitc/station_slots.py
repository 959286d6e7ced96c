# Firmware image slots on an ESP32: the two OTA app partitions (partitions.csv), each holding a MicroPython
# build with the station frozen in. The same adapter as boards/host/station_slots.py, over esp32.Partition:
# the ROM bootloader does the boot-time part itself (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, on in every
# MicroPython esp32 build since v1.21): a new image boots once pending verify, and a reset of any kind before
# mark_app_valid_cancel_rollback() boots the previous one again.
# Not run on a board yet: tested against a stand-in with the same block semantics (tests_host/mp/mpt_slots_esp32.py).
import esp32
from micropython import const

_BLOCK = const(4096)  # the partition's erase unit: writeblocks(n, buf) erases len(buf) first
_UNIT = const(16)  # what flash encryption writes at once


class Slots:
    def __init__(self):
        self._part = esp32.Partition(esp32.Partition.RUNNING)
        self.running = self._part.info()[4]  # its label: "ota_0" or "ota_1"
        self.rolled_back = False  # MicroPython does not expose esp_ota_get_last_invalid_partition
        self._confirmed = False

    def confirmed(self):
        # MicroPython does not expose esp_ota_get_state_partition either: known once we confirmed it
        return self._confirmed

    def confirm(self):
        # Cancels the rollback of a pending-verify image; harmless for a valid one (ESP-IDF), so it is
        # called at every boot's first Accepted BootNotification. True the first time in this boot.
        if self._confirmed:
            return False
        esp32.Partition.mark_app_valid_cancel_rollback()
        self._confirmed = True
        return True

    def writer(self):
        return _Writer(self._part.get_next_update())


class _Writer:
    # Writes each chunk where it goes, erasing a 4 KiB block when the image first reaches it
    # (ioctl 6; writeblocks with an offset does not erase): no block-sized buffer of its own, so the
    # download's 1 KiB chunk is the only one, and a heap fragmented by a day's work need not have a free
    # 4 KiB block when an update comes. Every write is whole 16-byte units at a multiple of 16, as flash
    # encryption needs (ESP-IDF encrypts 16 bytes at a time; a vendor may turn it on): the few bytes of a
    # chunk beyond its last full unit wait in _tail, and finish() pads the last unit with 0xFF, what
    # erased flash holds anyway. finish() makes the slot the next boot's (set_boot() validates the image
    # and raises OSError if it is not one, so a partial image never boots).
    def __init__(self, part):
        self._p = part
        self.slot = part.info()[4]
        self._end = part.info()[3]
        self._at = 0  # bytes on flash
        self._tail = memoryview(bytearray(_UNIT))
        self._t = 0  # bytes waiting in _tail
        self.size = 0

    def _put(self, mv):
        n = self._at
        while len(mv):
            blk = n // _BLOCK
            off = n % _BLOCK
            if not off:
                self._p.ioctl(6, blk)
            k = min(len(mv), _BLOCK - off)
            self._p.writeblocks(blk, mv if k == len(mv) else mv[:k], off)
            n += k
            self._at = n
            mv = mv[k:]

    def write(self, data):
        mv = memoryview(data)
        if self.size + len(mv) > self._end:
            raise OSError(28)  # ENOSPC: the image is bigger than the slot
        self.size += len(mv)
        t = self._t
        if t:
            k = min(_UNIT - t, len(mv))
            self._tail[t:t + k] = mv[:k]
            mv = mv[k:]
            t += k
            if t < _UNIT:
                self._t = t
                return
            self._put(self._tail)
        t = len(mv) % _UNIT
        if t:
            self._tail[:t] = mv[len(mv) - t:]
            mv = mv[:len(mv) - t]
        self._t = t
        self._put(mv)

    def abort(self):
        self._p = None  # the slot is not set to boot: what was written is never started

    def finish(self):
        if self._t:
            for i in range(self._t, _UNIT):
                self._tail[i] = 0xFF
            self._put(self._tail)
            self._t = 0
        self._p.set_boot()
