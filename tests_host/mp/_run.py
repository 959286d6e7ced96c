# MicroPython side of the test harness: import one test module, run one test.
# argv: <dir> <module> <function>. Prints a pass mark only when the test returned normally.
import sys

sys.path.insert(0, sys.argv[1])
fn = getattr(__import__(sys.argv[2]), sys.argv[3])
try:
    r = fn()
    if type(r).__name__ == "generator":  # async def: a coroutine is a generator here
        import asyncio

        asyncio.run(r)
except BaseException as e:  # noqa: B036 - SystemExit and KeyboardInterrupt must fail too
    sys.print_exception(e)
    sys.exit(1)
print("MPTEST-PASS")
