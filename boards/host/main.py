# Host entry: micropython boards/host/main.py <config.json> [reset cause]
# (tools/sim.py writes the config and starts this with the project's MICROPYPATH).
import json
import os
import sys

import app
import board

with open(sys.argv[1]) as f:
    cfg = json.load(f)
if len(sys.argv) > 2:
    cfg["reset_cause"] = sys.argv[2]
heap_log = os.getenv("STATION_HEAP_LOG_MS")
if heap_log:  # tools/bench_heap.py, tools/fuzz_ws.py: log the live heap (heapmon.py)
    cfg["heap_log_ms"] = int(heap_log)
app.run(board.make(cfg), cfg)
