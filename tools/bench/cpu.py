"""CPU per TriggerMessage(Heartbeat) round trip: the firmware under the Unix port versus a charge point on CPython
with the `ocpp` package (v201 ChargePoint over a `websockets` client, what a Linux-based charger would run),
side by side in one run against the same CSMS (tools/csms/dev.py).

    .venv/bin/python tools/bench/cpu.py [--n 1000]

Workload, the same for both: the CSMS sends TriggerMessage(Heartbeat) and waits for the response and then the
station's Heartbeat CALL (which it answers) before the next one; --n round trips per station, in --blocks
blocks the two stations take turns with. CPU = user +
system time of the station process from /proc/<pid>/stat over the workload (clock ticks, 10 ms). The firmware
process also polls its meter (pymodbus SDM630 over a pty, every second) and its inputs (every 10 ms) while it
works; its idle CPU rate is measured for a few seconds before the workload and reported, and the net figure
subtracts it. The CPython charge point has no such background work.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time

from tools.bench import kit


async def cpython_cp(url, sid):
    """The CPython charge point (run in its own process: `cpu.py --cp URL ID`)."""
    import logging

    import websockets
    from ocpp.routing import after, on
    from ocpp.v201 import ChargePoint, call, call_result

    logging.getLogger("ocpp").setLevel(logging.CRITICAL)

    class CP(ChargePoint):
        @on("TriggerMessage")
        async def on_trigger(self, requested_message, **kw):
            return call_result.TriggerMessage(status="Accepted" if requested_message == "Heartbeat"
                                              else "NotImplemented")

        @after("TriggerMessage")
        async def after_trigger(self, requested_message, **kw):
            if requested_message == "Heartbeat":  # after the response is on the wire (F06.FR.10 order)
                await self.call(call.Heartbeat())

    async with websockets.connect(url + "/" + sid, subprotocols=["ocpp2.0.1"], ping_interval=None) as ws:
        cp = CP(sid, ws)
        task = asyncio.ensure_future(cp.start())
        await cp.call(call.BootNotification(charging_station={"model": "PyCP", "vendor_name": "Bench"},
                                            reason="PowerUp"))
        print("cp: booted", flush=True)
        await task


def workload(csms, sid, n):
    t0 = time.time()
    for i in range(n):
        status, _, m = kit.trigger(csms, sid, "Heartbeat", i)
        assert status == "Accepted" and m is not None
        if len(csms.log) > 20000:
            with csms._cond:
                del csms.log[:-100]
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="round trips per station")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU measured on the firmware")
    ap.add_argument("--blocks", type=int, default=10, help="the stations take turns, this many blocks each")
    ap.add_argument("--cp", nargs=2, metavar=("URL", "ID"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.cp:
        asyncio.run(cpython_cp(*a.cp))
        return
    from boards.host.sim.simctl import Station
    from tools.csms.dev import CSMS

    with CSMS(interval=3600) as csms:
        st = Station(csms.url + "/ocpp", "CPU-FW", evses=1)
        cp = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--cp", csms.url + "/ocpp", "CPU-PY"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            csms.wait_for("StatusNotification", 1, timeout=20)
            csms.wait_connected("CPU-PY", timeout=20)
            fw_pid = kit.firmware_pid(st)
            workload(csms, "CPU-FW", 20)  # warm-up: lazy imports, schema tables
            workload(csms, "CPU-PY", 20)
            c0 = kit.proc_cpu(fw_pid)
            time.sleep(a.idle)
            idle_rate = (kit.proc_cpu(fw_pid) - c0) / a.idle
            res = {"CPU-FW": (0.0, 0.0), "CPU-PY": (0.0, 0.0)}
            # interleaved blocks: a change in the machine's load hits both stations alike
            blocks = [a.n // a.blocks + (1 if i < a.n % a.blocks else 0) for i in range(a.blocks)]
            for k in blocks:
                for sid, pid in (("CPU-FW", fw_pid), ("CPU-PY", cp.pid)):
                    c0 = kit.proc_cpu(pid)
                    wall = workload(csms, sid, k)
                    cpu = kit.proc_cpu(pid) - c0
                    res[sid] = (res[sid][0] + cpu, res[sid][1] + wall)
            for sid, (cpu, wall) in res.items():
                print("  %s: %d round trips, %.2f s CPU, %.2f s wall" % (sid, a.n, cpu, wall), flush=True)
        finally:
            cp.kill()
            cp.wait()
            st.stop()
        errors = csms.errors()
    fw_cpu, fw_wall = res["CPU-FW"]
    py_cpu, py_wall = res["CPU-PY"]
    fw_net = max(fw_cpu - idle_rate * fw_wall, 0.0)
    per = lambda c: c / a.n * 1e6  # noqa: E731 - microseconds per round trip
    rows = [
        ("firmware, Unix port (.mpy)", "%.0f" % per(fw_cpu), "%.0f" % per(fw_net), "%.2f" % fw_cpu,
         "%.2f" % fw_wall),
        ("CPython 3.11 + ocpp 2.1.0 ChargePoint", "%.0f" % per(py_cpu), "%.0f" % per(py_cpu), "%.2f" % py_cpu,
         "%.2f" % py_wall),
    ]
    ratio_gross = py_cpu / fw_cpu if fw_cpu else float("inf")
    ratio_net = py_cpu / fw_net if fw_net else float("inf")
    text = kit.table(("station process", "CPU us / round trip", "net of idle", "CPU s", "wall s"), rows)
    text += ("\n\n%d TriggerMessage(Heartbeat) round trips each (response, then the Heartbeat CALL answered), "
             "same CSMS, one run, the two stations taking turns in %d blocks. Firmware idle CPU (meter and "
             "input polling): %.1f ms/s, subtracted in 'net of idle'.\nCPython needs %.1fx the CPU of the firmware "
             "per round trip (%.1fx net of the "
             "firmware's idle polling). Goal >= 2x: %s." % (
                 a.n, a.blocks, idle_rate * 1000, ratio_gross, ratio_net, "met" if ratio_gross >= 2 else "NOT met"))
    if errors:
        text += "\nCSMS schema errors: %r" % errors[:3]
    data = {"n": a.n, "firmware_cpu_s": fw_cpu, "firmware_wall_s": fw_wall, "firmware_idle_cpu_per_s": idle_rate,
            "firmware_us_per_rt": per(fw_cpu), "firmware_net_us_per_rt": per(fw_net), "cpython_cpu_s": py_cpu,
            "cpython_wall_s": py_wall, "cpython_us_per_rt": per(py_cpu), "ratio": ratio_gross,
            "ratio_net": ratio_net, "goal_2x_met": ratio_gross >= 2}
    kit.save("cpu", "CPU per TriggerMessage round trip: firmware vs CPython ocpp", text, data, "make bench-cpu")


if __name__ == "__main__":
    main()
