# ESP32-DevKitC (ESP32-WROOM-32): the one place for this board's pin map and bus settings.
# GPIOs chosen to avoid the boot strapping pins (0, 2, 5, 12, 15), the flash pins (6-11) and the
# input-only pins without pull-ups (34-39), so contacts can use the internal pull-ups.

# RS485 meter bus: UART2 on its usual pins, with a MAX485-style transceiver; DE and /RE tied together.
UART_ID = 2
UART_TX = 17
UART_RX = 16
RS485_DE = 4  # high = drive the bus
BAUD = 9600  # 8N1, the meters' factory setting
RXBUF = 512  # holds the longest Modbus reply (255 bytes) twice

# Connector contacts per EVSE: (plug detect, EV charging = contactor feedback / pilot C, fault = RCD trip).
# Dry contacts to GND with the internal pull-up: a closed contact reads 0, i.e. active low.
INPUTS = {
    1: (32, 33, 25),
    2: (26, 27, 14),
}
ACTIVE_LOW = True

# Meter of each EVSE on the bus: (model, Modbus unit id); models in firmware/station/hw/meters.py.
METERS = {
    1: ("SDM630", 1),
    2: ("SDM630", 2),
}

STORAGE = "/data"  # on the LittleFS root filesystem
