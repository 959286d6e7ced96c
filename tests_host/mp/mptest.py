# Small helpers for MicroPython-side tests (there is no pytest on the device side).


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def eq(a, b):
    assert a == b, "%r != %r" % (a, b)
