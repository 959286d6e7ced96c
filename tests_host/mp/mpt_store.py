import os

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
    assert not s2.exists("cfg.tmp")


def test_append_journal():
    s = _fresh()
    s.append("j", b"a\n")
    s.append("j", b"b\n")
    eq(s.read("j"), b"a\nb\n")
