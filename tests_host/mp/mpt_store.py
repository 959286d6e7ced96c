import os

from flash import FullFS
from mptest import eq
from station.store import Store

HEAP = "32K"
_ROOT = "/tmp/mpt_store"


def _fresh():
    os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return Store(_ROOT + "/a/b")


def test_write_read_replace():
    s = _fresh()
    eq(s.read("x"), None)
    s.write("x", b"one")
    eq(s.read("x"), b"one")
    s.write("x", b"two")
    eq(s.read("x"), b"two")
    s.remove("x")
    eq(s.read("x"), None)


def test_leftover_temp_from_power_cut_is_dropped():
    s = _fresh()
    s.write("cfg", b"good")
    with open(s.path("cfg.tmp"), "wb") as f:
        f.write(b"half-writ")
    s2 = Store(s.root)
    eq(s2.read("cfg"), b"good")
    eq(s2.read("cfg.tmp"), None)


def test_flash_full_keeps_the_old_file_and_leaves_no_temp():
    s = _fresh()
    s.write("x", b"old")
    full = Store(s.root, FullFS(room=2))
    try:
        full.write("x", b"new content")
        raise AssertionError("ENOSPC not raised")
    except OSError as e:
        eq(e.args[0], 28)
    eq(s.read("x"), b"old")
    eq(s.read("x.tmp"), None)  # the partial temp file does not eat the flash that is left
