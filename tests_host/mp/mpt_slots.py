# The host board's image slots (boards/host/station_slots.py): what its boot loader (boards/host/main.py)
# decides at each start, and a power cut at every write while a new image goes into the inactive slot.
import os

from flash import PowerCut, rmtree
from mptest import eq, raises
from station_slots import Slots, image_size

HEAP = "96K"
_ROOT = "/tmp/mpt_slots"


def _image(n, fill=0x41):
    # a ROMFS-shaped image of n bytes: magic, the length of the rest as a varuint, the rest
    body = n - 6
    return b"\xd2\xcd\x31" + bytes([0x80 | (body >> 14) & 0x7F, 0x80 | (body >> 7) & 0x7F, body & 0x7F]) + \
        bytes([fill]) * body


def _fresh(a=True):
    rmtree(_ROOT)
    os.mkdir(_ROOT)
    if a:
        with open(_ROOT + "/a.img", "wb") as f:
            f.write(_image(3000, 0x61))


def _install(s, data, chunk=512):
    w = s.writer()
    for i in range(0, len(data), chunk):
        w.write(data[i:i + chunk])
    w.finish()
    return w.slot


def test_image_size_reads_the_header():
    eq(image_size(_image(3000)), 3000)
    eq(image_size(b"\xd2\xcd\x31\x05"), 9)
    eq(image_size(b"MPY\x06"), None)
    eq(image_size(b"\xd2\xcd\x31\x80"), None)  # the length goes on past what we were given


def test_a_fresh_board_boots_slot_a_confirmed():
    _fresh()
    s = Slots(_ROOT)
    eq(s.boot(), "a")
    assert s.confirmed() and not s.rolled_back
    assert not s.confirm()  # nothing to confirm
    eq(sorted(os.listdir(_ROOT)), ["a.img"])  # no write at all for a plain boot


def test_no_image_at_all_boots_nothing():
    _fresh(a=False)
    eq(Slots(_ROOT).boot(), None)


def test_new_image_boots_once_pending_then_rolls_back_unless_confirmed():
    _fresh()
    s = Slots(_ROOT)
    s.boot()
    eq(_install(s, _image(5000)), "b")  # never the running slot
    s = Slots(_ROOT)
    eq(s.boot(), "b")
    assert not s.confirmed()
    # it resets before confirming (a crash, the watchdog, a power cut): the next boot goes back
    s = Slots(_ROOT)
    eq(s.boot(), "a")
    assert s.rolled_back and s.confirmed()
    # and stays there: the abandoned image is no fallback any more
    s = Slots(_ROOT)
    eq(s.boot(), "a")
    assert not s.rolled_back


def test_confirmed_image_keeps_booting_and_the_next_one_goes_to_the_other_slot():
    _fresh()
    s = Slots(_ROOT)
    s.boot()
    _install(s, _image(5000))
    s = Slots(_ROOT)
    eq(s.boot(), "b")
    assert s.confirm() and s.confirmed()
    for _ in range(2):
        s = Slots(_ROOT)
        eq(s.boot(), "b")
        assert s.confirmed()
    eq(_install(s, _image(4000, 0x63)), "a")
    s = Slots(_ROOT)
    eq(s.boot(), "a")
    s = Slots(_ROOT)
    eq(s.boot(), "b")  # a never confirmed: back to b, the image that ran before it
    assert s.rolled_back


def test_an_image_that_is_not_whole_is_refused_and_the_running_one_stays():
    _fresh()
    s = Slots(_ROOT)
    s.boot()
    w = s.writer()
    w.write(_image(5000)[:4000])  # the header says 5000
    raises(OSError, w.finish)
    w = s.writer()
    w.write(b"MPY" + bytes(100))  # not an image at all
    raises(OSError, w.finish)
    s = Slots(_ROOT)
    eq(s.boot(), "a")
    assert s.confirmed()


def test_an_active_slot_that_is_not_an_image_falls_back_to_the_previous():
    _fresh()
    s = Slots(_ROOT)
    s.boot()
    _install(s, _image(5000))
    Slots(_ROOT).boot()  # b, pending
    Slots(_ROOT).confirm()
    with open(_ROOT + "/b.img", "wb") as f:
        f.write(b"garbage")  # a flash fault, or someone wrote over it
    s = Slots(_ROOT)
    eq(s.boot(), "a")


class CutFS:
    # The port's filesystem, with the power cut at write number `at` (counting every write call):
    # "before" it starts, "torn" half-way through it, or "after" it completed, before anything else.
    def __init__(self, at, mode):
        self.at = at
        self.mode = mode
        self.n = 0
        self.rename = os.rename
        self.stat = os.stat

    def open(self, path, mode="r"):
        f = open(path, mode)
        return _Cut(f, self) if "w" in mode else f


class _Cut:
    def __init__(self, f, fs):
        self._f = f
        self._fs = fs

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def close(self):
        self._f.close()

    def write(self, data):
        fs = self._fs
        fs.n += 1
        if fs.n == fs.at:
            if fs.mode == "torn":
                self._f.write(data[:len(data) // 2])
            elif fs.mode == "after":
                self._f.write(data)
            self._f.close()
            raise PowerCut()
        return self._f.write(data)


def test_power_cut_at_every_write_of_an_install_leaves_a_bootable_board():
    new = _image(5000, 0x62)
    writes = 5000 // 512 + 1 + 1  # image chunks, then the boot record
    outcomes = set()
    for mode in ("before", "torn", "after"):
        for at in range(1, writes + 2):  # the last round: no cut, the install completes
            _fresh()
            s = Slots(_ROOT, CutFS(at, mode))
            s.boot()
            try:
                _install(s, new)
                eq(at, writes + 1)
            except PowerCut:
                pass
            s = Slots(_ROOT)  # the next start, on the port's own filesystem
            slot = s.boot()
            with open(s.path(slot), "rb") as f:
                data = f.read()
            if slot == "a":  # the old image, untouched
                eq(data, _image(3000, 0x61))
                assert s.confirmed()
            else:  # the switch was on flash: the whole new image, pending verify
                eq((slot, data), ("b", new))
                assert not s.confirmed()
            outcomes.add((mode, slot))
    # a cut anywhere, the boot record's write included, keeps a; only a completed install switches to b
    eq(sorted(outcomes), [("after", "a"), ("after", "b"), ("before", "a"), ("before", "b"), ("torn", "a"),
                          ("torn", "b")])
