# Heap monitor for benchmarks and fuzzing (off unless cfg["heap_log_ms"] is set; the host board sets it
# from $STATION_HEAP_LOG_MS). Logs the live heap after a full collection, every period:
#   "heap: alloc <bytes in use> free <bytes free> peak <largest alloc so far>"
# and "heap: modules <names>" whenever the set of loaded modules changes (code loaded from .mpy is heap too).
# What it measures is the live set at sample times: garbage is collected first, and short-lived peaks
# between two samples are not seen (the smallest heap that still works is measured by bisection instead).
import asyncio
import gc
import sys

from station import log

_TAG = "heap"


async def run(period_ms, sched=None):
    peak = 0
    nmod = 0
    while True:
        if len(sys.modules) != nmod:
            nmod = len(sys.modules)
            log.info(_TAG, "modules %s", " ".join(sorted(sys.modules)))
        gc.collect()
        a = gc.mem_alloc()
        peak = max(peak, a)
        log.info(_TAG, "alloc %d free %d peak %d", a, gc.mem_free(), peak)
        await asyncio.sleep_ms(period_ms)
