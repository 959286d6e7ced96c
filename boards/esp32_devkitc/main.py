# ESP32-DevKitC entry: read /config.json, keep Wi-Fi up, run the station (station/app.py) under its scheduler.
# The image this runs from is an OTA app slot (station_slots.py); the station confirms it after its first
# Accepted BootNotification. Whatever stops the station before that (an import error in a new build, a
# crash) ends in a reset, so the bootloader rolls a pending-verify image back instead of the board sitting in
# the REPL; a confirmed image just starts again.
import json
import sys

import machine

try:
    import station_board
    import station_slots
    import station_wifi
    from station import app

    with open("/config.json") as f:
        cfg = json.load(f)
    try:  # the build's version record, if the build froze one (tools/build/image.py writes the same)
        import station_version  # type: ignore[import-not-found]  # frozen from tools/build/image.py's record

        cfg["firmware"] = station_version.VERSION
    except ImportError:
        pass
    w = cfg.get("wifi") or {}
    app.run(station_board.make(cfg, station_slots.Slots()), cfg,
            (("wifi", station_wifi.keep_up, (w.get("ssid", ""), w.get("key", ""))),))
except Exception as e:  # noqa: BLE001 - the last resort: report, then reset (see above)
    sys.print_exception(e)
machine.reset()
