# Freeze the station and this board's modules into the image (bytecode stays in flash, not in RAM).
# Build from your MicroPython checkout:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/this/manifest.py
# Paths below are relative to this file. main.py and boot.py are copied to the board, not frozen.
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 - manifest functions are provided by the build
include("../../firmware/manifest.py")  # noqa: F821 - the station's core
include("../../firmware/station/certs/manifest.py")  # noqa: F821 - certificates: leave out to save ~7 KB
module("station_board.py")  # noqa: F821
module("station_pins.py")  # noqa: F821
module("station_slots.py")  # noqa: F821
module("station_wifi.py")  # noqa: F821

# The build's version record (`make version-record VERSION=1.2.3` writes it; BootNotification's firmwareVersion),
# frozen when it is there; without it the station reports config.json's "firmware". The build runs this file with
# its own folder as the current directory.
import os  # noqa: E402

if os.path.exists("../../build/station_version.py"):
    module("station_version.py", base_path="../../build")  # noqa: F821
