# Wi-Fi station mode with reconnect. The OCPP connection has its own back-off; this only keeps the link up.
import asyncio

import network

from station import log

_TAG = "wifi"


async def keep_up(ssid, key, sched=None):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    was_up = False
    while True:
        if sched:
            sched.alive("wifi")
        if wlan.isconnected():
            if not was_up:
                log.info(_TAG, "connected, address %s", wlan.ifconfig()[0])
                was_up = True
        else:
            if was_up:
                log.warn(_TAG, "link lost, reconnecting")
                was_up = False
            try:
                wlan.connect(ssid, key)
            except OSError as e:  # "Wifi Internal Error" while a connect is already running
                log.debug(_TAG, "connect: %r", e)
            for _ in range(100):  # up to 10 s for association and DHCP
                if wlan.isconnected():
                    break
                await asyncio.sleep_ms(100)
        await asyncio.sleep_ms(2000)
