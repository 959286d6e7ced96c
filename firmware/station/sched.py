# Supervised tasks on asyncio and the watchdog. A task that crashes is logged and restarted with
# back-off; the hardware watchdog is fed only while every critical task has checked in recently,
# so a hung (not crashed) loop resets the board instead of running on deaf.
import asyncio
import time

from micropython import const

from station import log

_TAG = "sched"
_BACKOFF_MIN_MS = const(1000)
_BACKOFF_MAX_MS = const(60000)


def _loop_error(loop, ctx):
    # Last resort for exceptions in tasks nobody awaits: log them, keep the loop running.
    e = ctx.get("exception")
    if e is not None:
        log.exc(_TAG, e, "unhandled in task")
    else:
        log.error(_TAG, "loop: %s", ctx.get("message"))


class Sched:
    def __init__(self, wdt=None, stale_ms=30000, backoff_ms=_BACKOFF_MIN_MS):
        # wdt: an object with feed() (machine.WDT on the board) or None. stale_ms: how long a critical
        # task may go without alive() before the watchdog stops being fed.
        self._wdt = wdt
        self._stale = stale_ms
        self._backoff = backoff_ms
        self._seen = {}  # critical task name -> ticks_ms of its last alive()
        self.restarts = {}
        asyncio.get_event_loop().set_exception_handler(_loop_error)

    def arm(self, wdt):
        """Start feeding this watchdog (machine.WDT starts counting when it is made: make it last)."""
        self._wdt = wdt
        wdt.feed()

    def feed(self):
        """Feed now, around a call that blocks the loop (DNS), if the watchdog is armed and all is well."""
        if self._wdt and self.healthy()[1]:
            self._wdt.feed()

    def alive(self, name):
        """A critical task checks in (call at least every stale_ms)."""
        self._seen[name] = time.ticks_ms()

    def spawn(self, name, fn, *args, critical=False):
        """Run fn(*args) (a coroutine function) forever: restarted with back-off if it raises."""
        if critical:
            self.alive(name)
        return asyncio.create_task(self._supervise(name, fn, args))

    async def _supervise(self, name, fn, args):
        delay = self._backoff
        while True:
            t0 = time.ticks_ms()
            try:
                await fn(*args)
                log.info(_TAG, "task %s finished", name)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exc(_TAG, e, "task %s crashed" % name)
            self.restarts[name] = self.restarts.get(name, 0) + 1
            if time.ticks_diff(time.ticks_ms(), t0) > _BACKOFF_MAX_MS:
                delay = self._backoff  # it ran well for a while: this is a new problem
            log.warn(_TAG, "restarting %s in %d ms", name, delay)
            await asyncio.sleep_ms(delay)
            delay = min(delay * 2, _BACKOFF_MAX_MS)

    def healthy(self):
        now = time.ticks_ms()
        for name in self._seen:
            if time.ticks_diff(now, self._seen[name]) > self._stale:
                return name, False
        return None, True

    async def watchdog(self, period_ms=1000):
        stuck = None
        while True:
            name, ok = self.healthy()
            if ok:
                if self._wdt:
                    self._wdt.feed()
                stuck = None
            elif name != stuck:
                stuck = name
                log.error(_TAG, "task %s stopped checking in: not feeding the watchdog", name)
            await asyncio.sleep_ms(period_ms)
