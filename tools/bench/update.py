"""A firmware download during normal work, on loopback: the station (tools/sim.py, from its image) downloads a
1.5 MB signed file from a CPython HTTP server into its inactive slot while the CSMS (tools/csms/dev.py) sends
TriggerMessage(Heartbeat) one after the other; the install is scheduled an hour ahead, so nothing reboots.

    .venv/bin/python tools/bench/update.py [--size 1572864]

Reports the time from the UpdateFirmware answer to Downloaded (the CSMS's frame timestamps) and the throughput, the
TriggerMessage response latency during the download (p50/p99/max), and, for a second request (AcceptedCanceled:
the code is loaded by then) served at 64 KB per 20 ms, the live heap during its download above the heap just before
it (boards/host/station_heapmon.py samples every 20 ms after a collection; the 1 KiB chunk buffer included) and the
longest event-loop hold (boards/host/station_holdmon.py, a task that only yields: the longest gap between two of
its runs); then a third request, the same slow download with no trigger meanwhile: the download's own heap.
"""

import argparse
import datetime
import os
import sys

from boards.host.sim.simctl import Station, payloads
from tools.bench import kit
from tools.build import sign_image as si
from tools.csms.dev import CSMS
from tools.csms.files import FileServer

SID = "UPD-BENCH"


def _iso(delta_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob(n):
    # ROMFS-shaped (magic, varuint length, filler): the slot writer takes it; it is never booted here
    body = n - 6
    return b"\xd2\xcd\x31" + bytes([0x80 | (body >> 14) & 0x7F, 0x80 | (body >> 7) & 0x7F, body & 0x7F]) + \
        os.urandom(body)


def _at(st, since, text):
    # the index of the first station log line from `since` on that contains text
    return next(i for i, ln in enumerate(st.lines) if i >= since and text in ln)


def _holds(lines, start, end):
    # the longest event-loop hold of each 100 ms (boards/host/station_holdmon.py) between two log lines
    return [int(ln.split("hold: max ")[1].split()[0]) for ln in lines[start:end] if "hold: max " in ln]


def run(size):
    os.environ[kit.HEAP_ENV] = "20"
    os.environ["STATION_HOLD_LOG_MS"] = "100"
    _, root, key, cert = si.manufacturer_ca()
    data = _blob(size)
    srv = FileServer().start()
    srv.files["/fast"] = srv.files["/slow"] = data
    srv.slow["/slow"] = 0.02 / 64  # 64 KB every 20 ms, so that the heap monitor samples during the download
    with CSMS(interval=300) as csms:
        st = Station(csms.url + "/ocpp", SID, extra=("--version", "1.0.0"))
        try:
            csms.wait_for("StatusNotification", timeout=20)
            csms.call(SID, "InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                  "certificate": si.pem_of(root)})
            url = srv.url("")
            fw = dict(si.fields(data, key, si.pem_of(cert)), retrieveDateTime=_iso(-7200), installDateTime=_iso(3600),
                      location=url + "/fast")
            mark1 = st.mark()
            assert csms.call(SID, "UpdateFirmware", {"requestId": 1, "firmware": fw})["status"] == "Accepted"

            def status(rid):
                p = [x for x in payloads(csms, "FirmwareStatusNotification", SID) if x["requestId"] == rid]
                return p[-1]["status"] if p else None

            csms.wait(lambda log: status(1) is not None, 20)
            lat = []
            while status(1) == "Downloading":
                lat.append(kit.trigger(csms, SID, "Heartbeat")[1])
            csms.wait(lambda log: status(1) in ("InstallScheduled", "InvalidSignature", "DownloadFailed"), 60)
            fsn = [m for m in csms.log if m.dir == "in" and m.action == "FirmwareStatusNotification"]
            t = {m.payload["status"]: m.t for m in fsn}
            # from the UpdateFirmware answer: Downloading is queued at the start but may reach the CSMS later
            t0 = next(m.t for m in csms.log if m.dir == "in" and m.type == 3 and m.id == next(
                o.id for o in csms.log if o.dir == "out" and o.action == "UpdateFirmware"))
            end = _at(st, mark1, "job 1: Downloaded")
            fast_holds = _holds(st.lines, mark1, end + 3)  # + the window the end fell in
            # the heap: a second request (the first is cancelled), all its code loaded by the first, slowly served
            before = kit.wait_heap_sample(st, st.mark())[0]
            mark = st.mark()
            fw["location"] = url + "/slow"
            assert csms.call(SID, "UpdateFirmware", {"requestId": 2, "firmware": fw})["status"] == "AcceptedCanceled"
            csms.wait(lambda log: status(2) is not None, 20)
            slow = []
            while status(2) == "Downloading":
                slow.append(kit.trigger(csms, SID, "Heartbeat")[1])
            csms.wait(lambda log: status(2) == "InstallScheduled", 60)
            end = _at(st, mark, "job 2: Downloaded")
            heap = [x[0] for x in kit.heap_samples(st.lines[:end], mark)]
            holds = _holds(st.lines, mark, end)
            # the same download with nothing else going on: the download's own heap
            before3 = kit.wait_heap_sample(st, st.mark())[0]
            mark = st.mark()
            assert csms.call(SID, "UpdateFirmware", {"requestId": 3, "firmware": fw})["status"] == "AcceptedCanceled"
            csms.wait(lambda log: status(3) == "InstallScheduled", 60)
            end = _at(st, mark, "job 3: Downloaded")
            start = _at(st, mark, "job 3: Downloading")
            quiet = [x[0] for x in kit.heap_samples(st.lines[:end], start)]
            asked = [x[0] for x in kit.heap_samples(st.lines[:start], mark)]  # the request, the cancel
            return {"size": size, "final": status(1), "download_s": t["Downloaded"] - t0,
                    "triggers": len(lat), "p50": kit.pct(lat, 50), "p99": kit.pct(lat, 99),
                    "max": max(lat) if lat else None, "heap_before": before, "heap_peak": max(heap),
                    "heap_samples": len(heap), "slow_triggers": len(slow), "slow_p99": kit.pct(slow, 99),
                    "slow_max": max(slow) if slow else None, "hold_max_us": max(holds),
                    "fast_hold_max_us": max(fast_holds), "hold_windows": len(holds),
                    "quiet_before": before3, "quiet_peak": max(quiet), "quiet_samples": len(quiet),
                    "request_peak": max(asked) if asked else None}
        finally:
            st.stop()
            srv.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1536 * 1024)
    a = ap.parse_args()
    r = run(a.size)
    ms = lambda v: "%.1f" % (v * 1000)  # noqa: E731
    rows = [("file", "%d bytes" % r["size"]), ("end state", r["final"]),
            ("UpdateFirmware answered -> Downloaded",
             "%.2f s (%.0f KB/s)" % (r["download_s"], r["size"] / 1024 / r["download_s"])),
            ("TriggerMessage(Heartbeat) during it", "%d, response p50 %s / p99 %s / max %s ms"
             % (r["triggers"], ms(r["p50"]), ms(r["p99"]), ms(r["max"]))),
            ("the same during the slow download", "%d, response p99 %s / max %s ms"
             % (r["slow_triggers"], ms(r["slow_p99"]), ms(r["slow_max"]))),
            ("live heap during a download above before it (code loaded)", "%+.1f KB, %d samples (before %.1f KB)"
             % ((r["heap_peak"] - r["heap_before"]) / 1024, r["heap_samples"], r["heap_before"] / 1024)),
            ("the same, nothing else going on: from Downloading on", "%+.1f KB, %d samples (%.1f KB beyond the chunk)"
             % ((r["quiet_peak"] - r["quiet_before"]) / 1024, r["quiet_samples"],
                (r["quiet_peak"] - r["quiet_before"] - 1024) / 1024)),
            ("  before it: the request, the cancel of the running job",
             "%+.1f KB" % ((r["request_peak"] - r["quiet_before"]) / 1024) if r["request_peak"] else "not sampled"),
            ("longest event-loop hold: the fast download / the slow one",
             "%.1f / %.1f ms (the slow one: %d windows of 100 ms)"
             % (r["fast_hold_max_us"] / 1000, r["hold_max_us"] / 1000, r["hold_windows"]))]
    kit.save("update", "Firmware download during normal work", kit.table(("figure", "value"), rows), r,
             " ".join(["tools/bench/update.py"] + sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
