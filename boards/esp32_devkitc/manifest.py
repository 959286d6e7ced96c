# Freeze the firmware and this board's files into the image (bytecode stays in flash, not in RAM).
# Build from your MicroPython checkout:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/this/manifest.py
# Paths below are relative to this file.
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 - manifest functions are provided by the build
freeze("../../firmware")  # noqa: F821
freeze(".", ("board.py", "pins.py", "wifi.py"))  # noqa: F821
