# Host entry: micropython boards/host/main.py <config.json> [reset cause]
# (tools/sim.py writes the config and starts this with the project's MICROPYPATH).
import json
import sys

import app
import board

with open(sys.argv[1]) as f:
    cfg = json.load(f)
if len(sys.argv) > 2:
    cfg["reset_cause"] = sys.argv[2]
app.run(board.make(cfg), cfg)
