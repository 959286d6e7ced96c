# Host entry: micropython boards/host/main.py <config.json> [reset cause]
# (tools/sim.py writes the config and starts this with the project's MICROPYPATH).
import json
import os
import sys

import station_board
from station import app

with open(sys.argv[1]) as f:
    cfg = json.load(f)
if len(sys.argv) > 2:
    cfg["reset_cause"] = sys.argv[2]
extra = []  # board tasks the station supervises beside its own
heap_log = os.getenv("STATION_HEAP_LOG_MS")
if heap_log:  # benchmarks and fuzzing: log the live heap (station_heapmon.py, host only)
    import station_heapmon

    extra.append(("heap", station_heapmon.run, (int(heap_log),)))
app.run(station_board.make(cfg), cfg, extra)
