# MicroPython entry for the TLS handshake tests (test_ws_tls.py): the firmware's OCPP-J connection alone
# (rpc, registration, connection, outbox, device model) with a client certificate, which tools/sim.py does
# not take. No station behaviour here, and no handler of its own: a test of what the station does or answers
# runs the real station through tools/sim.py (boards/host/sim/simctl.py).
#   micropython station_conn.py <config.json>     (a file: this Unix port dies on argv items >= 256 chars)
# config: url, id, dm ({"Component.Variable[.Instance]": value}), reset, max_size, ca (DER file), cert/key.
# Prints the firmware log to stdout; tests read it for "E " lines and tracebacks.
import asyncio
import json
import sys

from station import log
from station.model.device_model import DeviceModel
from station.session.connection import Connection
from station.session.outbox import Outbox
from station.session.registration import Registration
from station.transport.rpc import Rpc


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    dm = DeviceModel(initial=cfg.get("dm", {}))
    rpc = Rpc(dm)
    ob = Outbox(rpc, dm)
    ssl = None
    if cfg.get("ca"):
        from station.transport.ws import tls_context

        def read(path):
            with open(path, "rb") as f:
                return f.read()

        cert = read(cfg["cert"]) if cfg.get("cert") else None
        key = read(cfg["key"]) if cfg.get("key") else None
        ssl = tls_context(read(cfg["ca"]), cert, key)
    cs = {"model": "HostTest", "vendorName": "ocpp-station", "serialNumber": "SN-T1", "firmwareVersion": "0.1"}
    reg = Registration(dm, ob, cs, cfg.get("reset", "PowerUp"))
    conn = Connection(dm, rpc, reg, ob, cfg["url"], cfg["id"], ssl=ssl, max_size=cfg.get("max_size", 16384))

    async def run():
        asyncio.create_task(ob.run())
        await conn.run()

    log.info("peer", "station %s -> %s", cfg["id"], conn.url)
    asyncio.run(run())


main()
