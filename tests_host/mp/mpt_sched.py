import asyncio

from station import sched
from mptest import eq

HEAP = "48K"


class Wdt:
    feeds = 0

    def feed(self):
        self.feeds += 1


async def test_crashing_task_is_restarted_with_backoff():
    s = sched.Sched(backoff_ms=20)
    runs = []

    async def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise ValueError("boom %d" % len(runs))
        await asyncio.sleep_ms(10)

    t = s.spawn("flaky", flaky)
    await asyncio.sleep_ms(200)  # restarts after 20 ms, then 40 ms
    eq(len(runs), 3)
    eq(s.restarts["flaky"], 2)
    assert t.done()


async def test_watchdog_fed_only_while_critical_tasks_check_in():
    w = Wdt()
    s = sched.Sched(w, stale_ms=150)

    async def worker(stop_after):
        for _ in range(stop_after):
            s.alive("worker")
            await asyncio.sleep_ms(20)
        await asyncio.sleep_ms(100000)  # hung

    s.spawn("worker", worker, 10, critical=True)
    asyncio.create_task(s.watchdog(20))
    await asyncio.sleep_ms(200)
    fed = w.feeds
    assert fed >= 5, fed
    await asyncio.sleep_ms(300)
    eq(s.healthy(), ("worker", False))
    before = w.feeds
    await asyncio.sleep_ms(200)
    eq(w.feeds, before)


async def test_unhandled_task_exception_is_logged_not_fatal():
    from station import log

    seen = []
    real = log.exc
    log.exc = lambda tag, e, msg="": seen.append((tag, e, msg))
    try:
        sched.Sched()
        boom = RuntimeError("nobody awaits me")
        ticks = []

        async def bad():
            raise boom

        async def other():
            for i in range(5):
                ticks.append(i)
                await asyncio.sleep_ms(5)

        asyncio.create_task(bad())
        t = asyncio.create_task(other())
        await asyncio.sleep_ms(0)  # bad() runs and raises; other() has started
        for _ in range(100):
            if t.done():
                break
            await asyncio.sleep_ms(5)
    finally:
        log.exc = real
    # the loop's exception handler (sched._loop_error) got that very exception and logged it, once
    eq(len(seen), 1)
    tag, e, msg = seen[0]
    eq(tag, "sched")
    assert e is boom, e
    eq(msg, "unhandled in task")
    # and the loop went on running the other task to its end
    eq(ticks, [0, 1, 2, 3, 4])
    assert t.done()
