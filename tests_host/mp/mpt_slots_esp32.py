# The ESP32 board's image slots (boards/esp32_devkitc/station_slots.py) against a stand-in for esp32.Partition
# with the same block semantics as ESP-IDF's: writeblocks(n, buf) erases whole 4 KiB blocks then writes,
# writeblocks(n, buf, off) and ioctl(6, n) write and erase apart, flash bits only go from 1 to 0 without an
# erase, set_boot() refuses what is not an app image (the magic
# byte 0xE9 ESP-IDF checks first; the real check also verifies the image's checksum), and the bootloader's
# otadata is a field of the stand-in. Not a board: this shows the adapter drives the API as documented.
import sys

from mptest import eq, raises

HEAP = "256K"  # two 32 KiB partitions and their images
_BLOCK = 4096


class _Flash:
    def __init__(self):
        self.parts = {}  # label -> bytearray
        self.boot = "ota_0"  # what otadata says boots next
        self.valid_calls = 0
        self.writes = []  # (label, block)
        self.erases = []  # (label, block)
        self.encrypted = False  # flash encryption: writes of whole 16-byte units only


class _Partition:
    BOOT = 0
    RUNNING = 1
    flash = None
    running = "ota_0"

    def __init__(self, which):
        if which == _Partition.RUNNING:
            self.label = _Partition.running
        elif isinstance(which, str):
            self.label = which
        else:
            raise ValueError(which)
        self._mem = _Partition.flash.parts[self.label]

    def info(self):
        # (type, subtype, address, size, label, encrypted)
        sub = 0x10 if self.label == "ota_0" else 0x11
        return (0, sub, 0x10000 if sub == 0x10 else 0x1D0000, len(self._mem), self.label, _Partition.flash.encrypted)

    def get_next_update(self):
        return _Partition("ota_1" if self.label == "ota_0" else "ota_0")

    def readblocks(self, n, buf, off=0):
        a = n * _BLOCK + off
        buf[:] = self._mem[a:a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        a = n * _BLOCK + (off or 0)
        if a + len(buf) > len(self._mem):
            raise OSError(22)
        if _Partition.flash.encrypted and (a % 16 or len(buf) % 16):
            raise OSError(-260)  # ESP-IDF encrypts whole 16-byte units only (ESP_ERR_INVALID_SIZE)
        _Partition.flash.writes.append((self.label, n))
        if off is None:  # erase the blocks the buffer covers first
            end = a + (len(buf) + _BLOCK - 1) // _BLOCK * _BLOCK
            for i in range(a, end):
                self._mem[i] = 0xFF
        for i in range(len(buf)):
            self._mem[a + i] &= buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return len(self._mem) // _BLOCK
        if op == 5:
            return _BLOCK
        if op == 6:  # erase one block
            if arg >= len(self._mem) // _BLOCK:
                raise OSError(22)
            _Partition.flash.erases.append((self.label, arg))
            for i in range(arg * _BLOCK, (arg + 1) * _BLOCK):
                self._mem[i] = 0xFF
            return 0
        return None

    def set_boot(self):
        if self._mem[0] != 0xE9:
            raise OSError(-5379)  # ESP_ERR_OTA_VALIDATE_FAILED
        _Partition.flash.boot = self.label

    @staticmethod
    def mark_app_valid_cancel_rollback():
        _Partition.flash.valid_calls += 1


class _Esp32:
    Partition = _Partition


def _board(size=8 * _BLOCK):
    f = _Flash()
    f.parts["ota_0"] = bytearray(size)  # the running build
    f.parts["ota_0"][0] = 0xE9
    f.parts["ota_1"] = bytearray(b"\x5a" * size)  # an older build, not yet erased
    _Partition.flash = f
    _Partition.running = "ota_0"
    return f


def _slots():
    if "station_slots" not in sys.modules:
        sys.modules["esp32"] = _Esp32
        sys.path.insert(0, sys.argv[1] + "/../../boards/esp32_devkitc")
        import station_slots

        sys.path.pop(0)
        assert station_slots.esp32 is _Esp32
    return sys.modules["station_slots"].Slots()


def _app(n, fill=0x33):
    return b"\xe9" + bytes([fill]) * (n - 1)


def _install(s, data, chunk=1000):
    w = s.writer()
    for i in range(0, len(data), chunk):
        w.write(data[i:i + chunk])
    w.finish()
    return w


def test_an_image_goes_to_the_other_slot_and_boots_next():
    f = _board()
    s = _slots()
    eq(s.running, "ota_0")
    img = _app(3 * _BLOCK + 123)
    w = _install(s, img)
    eq(w.slot, "ota_1")
    eq(f.boot, "ota_1")
    # the image, then erased flash to the end of its last block; the blocks after it are the old build's
    eq(bytes(f.parts["ota_1"][:len(img)]), img)
    eq(bytes(f.parts["ota_1"][len(img):4 * _BLOCK]), b"\xff" * (4 * _BLOCK - len(img)))
    eq(bytes(f.parts["ota_1"][4 * _BLOCK:]), b"\x5a" * (4 * _BLOCK))
    eq({lb for lb, _ in f.writes + f.erases}, {"ota_1"})  # never the running slot
    eq([b for _, b in f.erases], [0, 1, 2, 3])  # each block erased once, before it is written


def test_with_flash_encryption_every_write_is_whole_16_byte_units():
    img = _app(2 * _BLOCK + 1001)  # it ends mid-unit
    for chunk in (1000, 100, 1024):  # chunks ending 8, 4 and 0 bytes into a unit
        f = _board()
        f.encrypted = True
        _install(_slots(), img, chunk)
        eq(bytes(f.parts["ota_1"][:len(img)]), img)
        eq(bytes(f.parts["ota_1"][len(img):3 * _BLOCK]), b"\xff" * (3 * _BLOCK - len(img)))
        eq(f.boot, "ota_1")


def test_a_whole_number_of_blocks_erases_no_block_more():
    f = _board()
    _install(_slots(), _app(2 * _BLOCK), chunk=_BLOCK)
    eq([b for _, b in f.erases], [0, 1])
    eq(bytes(f.parts["ota_1"][2 * _BLOCK:]), b"\x5a" * (6 * _BLOCK))
    eq(f.boot, "ota_1")


def test_an_update_needs_no_free_block_of_flash_size_in_the_heap():
    # A heap fragmented by a day's work: no free block of 2 KiB, let alone the 4 KiB of an erase block.
    import gc

    f = _board()
    s = _slots()
    img = _app(3 * _BLOCK + 123)
    chunk = bytearray(1024)  # the download's buffer, allocated when it starts
    gc.collect()
    hold = []
    try:
        while True:
            hold.append(bytearray(1536))
    except MemoryError:
        pass
    for i in range(0, len(hold), 2):
        hold[i] = None  # 1.5 KiB holes between the blocks still in use
    gc.collect()
    w = s.writer()
    mv = memoryview(chunk)
    for i in range(0, len(img), len(chunk)):
        k = min(len(chunk), len(img) - i)
        mv[:k] = img[i:i + k]
        w.write(mv[:k])
    w.finish()
    del hold
    eq(bytes(f.parts["ota_1"][:len(img)]), img)
    eq(f.boot, "ota_1")


def test_confirm_cancels_the_rollback_once_per_boot():
    f = _board()
    s = _slots()
    assert not s.confirmed()
    assert s.confirm()
    assert s.confirmed()
    assert not s.confirm()  # a reconnect's Accepted BootNotification: no second call
    eq(f.valid_calls, 1)


def test_an_image_bigger_than_the_slot_is_refused_before_it_can_boot():
    f = _board(size=2 * _BLOCK)
    s = _slots()
    w = s.writer()
    w.write(_app(2 * _BLOCK))
    eq(raises(OSError, w.write, b"\x00").errno, 28)
    w.abort()
    eq(f.boot, "ota_0")


def test_what_is_not_an_app_image_never_becomes_the_boot_slot():
    f = _board()
    s = _slots()
    raises(OSError, _install, s, b"\xd2\xcd\x31" + b"\x00" * 5000)  # a ROMFS image is not an app
    eq(f.boot, "ota_0")
    eq(bytes(f.parts["ota_0"][:1]), b"\xe9")  # the running slot untouched


def test_a_cut_mid_write_leaves_the_running_slot_booting():
    f = _board()
    w = _slots().writer()
    w.write(_app(2 * _BLOCK + 10)[:_BLOCK + 500])  # the power goes here: finish() never runs
    eq(f.boot, "ota_0")
    eq({lb for lb, _ in f.writes + f.erases}, {"ota_1"})
