# Small helpers for MicroPython-side tests (there is no pytest on the device side).


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def eq(a, b):
    assert a == b, "%r != %r" % (a, b)


def alloc(fn, runs=10):
    """Heap bytes one call of fn() allocates (after a first call that may import or cache), gc disabled."""
    import gc

    def nothing():
        pass

    out = []
    for f in (nothing, fn):
        f()
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for _ in range(runs):
            f()
        out.append(gc.mem_alloc() - a)
        gc.enable()
    return max(0, out[1] - out[0]) // runs
