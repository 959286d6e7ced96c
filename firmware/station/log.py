# The one logger: "<seconds.ms> <L> <tag>: <message>" on stdout (UART REPL on the board).
# Tests read this stream; "E" lines and tracebacks there mean something went wrong.
import sys
import time

LEVEL = 1  # 0 debug, 1 info, 2 warning, 3 error
_NAMES = "DIWE"
ring = None  # the diagnostics log on flash (logs/ring.py), set by the app: gets every line printed


def _out(lvl, tag, msg, args):
    if lvl < LEVEL:
        return
    if args:
        try:
            msg = msg % args
        except Exception:  # a bad format string must never take the caller down
            msg = "%s %r" % (msg, args)
    t = time.ticks_ms()
    print("%d.%03d %s %s: %s" % (t // 1000, t % 1000, _NAMES[lvl], tag, msg))
    if ring is not None:
        ring.add(lvl, tag, msg)


def debug(tag, msg, *args):
    _out(0, tag, msg, args)


def info(tag, msg, *args):
    _out(1, tag, msg, args)


def warn(tag, msg, *args):
    _out(2, tag, msg, args)


def error(tag, msg, *args):
    _out(3, tag, msg, args)


def exc(tag, e, msg="unhandled exception"):
    # Full traceback: only for bugs, never for expected bad input.
    _out(3, tag, "%s: %r", (msg, e))
    sys.print_exception(e)
