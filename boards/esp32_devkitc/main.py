# ESP32-DevKitC entry: read /config.json, keep Wi-Fi up, run the station (station/app.py) under its scheduler.
import json

import station_board
import station_wifi
from station import app

with open("/config.json") as f:
    cfg = json.load(f)
w = cfg.get("wifi") or {}
app.run(station_board.make(cfg), cfg, (("wifi", station_wifi.keep_up, (w.get("ssid", ""), w.get("key", ""))),))
