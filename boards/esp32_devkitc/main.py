# ESP32-DevKitC entry: read /config.json, keep Wi-Fi up, run the station (app.py) under its scheduler.
import json

import app
import board
import wifi

with open("/config.json") as f:
    cfg = json.load(f)
w = cfg.get("wifi") or {}
app.run(board.make(cfg), cfg, (("wifi", wifi.keep_up, (w.get("ssid", ""), w.get("key", ""))),))
