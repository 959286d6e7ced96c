import asyncio

import sched
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
    sched.Sched()

    async def bad():
        raise RuntimeError("nobody awaits me")

    asyncio.create_task(bad())
    await asyncio.sleep_ms(20)  # the loop survives and this test returns normally
