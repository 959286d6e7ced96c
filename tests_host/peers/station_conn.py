# MicroPython entry for the OCPP-J integration tests: rpc + conn + outbox + device model, nothing else.
#   micropython station_conn.py <config.json>     (a file: this Unix port dies on argv items >= 256 chars)
# config: url, id, dm ({"Component.Variable[.Instance]": value}), reset, max_size, ca (DER file), cert/key,
#         slow ({action: seconds a handler takes}).
# Prints the firmware log to stdout; tests read it for "E " lines and tracebacks.
import asyncio
import json
import sys

import clock
import log
from ocppj.conn import Conn
from ocppj.rpc import Rpc
from station.device_model import DeviceModel
from station.outbox import Outbox


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    dm = DeviceModel(initial=cfg.get("dm", {}))
    rpc = Rpc(dm)
    ob = Outbox(rpc, dm)
    ssl = None
    if cfg.get("ca"):
        from ocppj.ws import tls_context

        def read(path):
            with open(path, "rb") as f:
                return f.read()

        cert = read(cfg["cert"]) if cfg.get("cert") else None
        key = read(cfg["key"]) if cfg.get("key") else None
        ssl = tls_context(read(cfg["ca"]), cert, key)
    cs = {"model": "HostTest", "vendorName": "ocpp-station", "serialNumber": "SN-T1", "firmwareVersion": "0.1"}
    conn = None

    def accepted():
        # B01.FR.05: the status of every connector after an Accepted boot.
        ob.put("StatusNotification", {"timestamp": clock.rfc3339(), "connectorStatus": "Available",
                                      "evseId": 1, "connectorId": 1}, key=("StatusNotification", 1, 1))

    conn = Conn(dm, rpc, ob, cfg["url"], cfg["id"], cs, cfg.get("reset", "PowerUp"), ssl=ssl,
                on_accepted=accepted, max_size=cfg.get("max_size", 16384))
    slow = cfg.get("slow", {})

    async def pause(action):
        if action in slow:
            await asyncio.sleep(slow[action])

    async def trigger(p):
        await pause("TriggerMessage")
        kind = p["requestedMessage"]
        if kind == "Heartbeat":
            return {"status": "Accepted"}, lambda: ob.put("Heartbeat", {}, triggered=True, key="Heartbeat")
        if kind == "BootNotification":
            if conn.boot_accepted:
                return {"status": "Rejected"}
            return {"status": "Accepted"}, lambda: conn.send_boot("Triggered")
        if kind == "StatusNotification":
            return {"status": "Accepted"}, accepted
        return {"status": "NotImplemented"}

    async def getvars(p):
        await pause("GetVariables")
        return dm.get_variables(p)

    rpc.on("TriggerMessage", trigger)
    rpc.on("GetVariables", getvars)
    rpc.on("SetVariables", dm.set_variables)

    async def run():
        asyncio.create_task(ob.run())
        await conn.run()

    log.info("peer", "station %s -> %s", cfg["id"], conn.url)
    asyncio.run(run())


main()
