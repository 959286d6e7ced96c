# Event-loop hold probe for benchmarks (off unless $STATION_HOLD_LOG_MS is set; boards/host/main.py starts it).
# A task that only yields (asyncio.sleep_ms(0)): the gap between two of its runs is the longest time some
# other task kept the loop, or the loop waited in poll with nothing to do (never longer than one round here,
# since this task is always ready). Logs the longest gap of each period:
#   "hold: max <us> us"
# It keeps the loop busy, so it is for a benchmark's run, never for a station's.
import asyncio
from time import ticks_diff, ticks_us

from station import log


async def run(period_ms, sched=None):
    worst = 0
    last = start = ticks_us()
    while True:
        await asyncio.sleep_ms(0)
        t = ticks_us()
        worst = max(worst, ticks_diff(t, last))
        last = t
        if ticks_diff(t, start) >= period_ms * 1000:
            log.info("hold", "max %d us", worst)
            worst = 0
            start = ticks_us()
            last = start
