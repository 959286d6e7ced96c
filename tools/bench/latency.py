"""TriggerMessage latency seen from the CSMS on loopback: the firmware from .mpy under the Unix port (tools/sim.py,
2 EVSEs, a transaction running on each) against tools/csms/dev.py (the `ocpp` package).

    .venv/bin/python tools/bench/latency.py [--n 1000] [--n-other 100]

For each requestedMessage kind: TriggerMessage sent -> TriggerMessageResponse received, and (Accepted kinds)
-> the triggered CALL received, p50/p99/max over --n triggers, one at a time. Both times come from the CSMS's
frame timestamps (time.time() in its event loop when a frame goes out or comes in), so the Python thread
hand-over of CSMS.call() is not counted. Kinds that are not Accepted in this state (BootNotification after an
Accepted boot, V2G disabled, Combined/Publish NotImplemented, a second Sign while a CSR is pending) get
--n-other triggers and only the response latency.
"""

import argparse
import sys
import time

from boards.host.sim.simctl import Station
from tools.bench import kit
from tools.csms.dev import CSMS

SID = "LAT-CS"


def run(n, n_other, heap="256K"):
    res = {}
    with CSMS(interval=300) as csms:
        st = Station(csms.url + "/ocpp", SID, evses=2, heap=heap)
        try:
            csms.wait_for("StatusNotification", 2, timeout=20)
            for e in (1, 2):
                st.cmd(cmd="plug", evse=e)
                st.wait_log("connector: evse %d: Occupied" % e)
                st.cmd(cmd="charge", evse=e, power_w=7400)
            csms.wait(lambda log: len([m for m in log if m.dir == "in" and m.action == "TransactionEvent"]) >= 4, 15)
            time.sleep(1.5)
            for kind in kit.KINDS:
                statuses, resp, msg = {}, [], []
                # the first round decides whether this kind is Accepted here; a Sign is Accepted once (its CSR
                # is then pending), so it counts with the others
                count = n
                for i in range(n):
                    status, r, m = kit.trigger(csms, SID, kind, i)
                    statuses[status] = statuses.get(status, 0) + 1
                    resp.append(r)
                    if m is not None:
                        msg.append(m)
                    if i == 0 and (status != "Accepted" or kind.startswith("Sign")):
                        count = n_other
                    if i + 1 >= count:
                        break
                    if len(csms.log) > 20000:  # keep the CSMS's scans short
                        with csms._cond:
                            del csms.log[:-100]
                res[kind] = {"statuses": statuses, "resp": resp, "msg": msg}
                print("  %-34s %s" % (kind, statuses), flush=True)
        finally:
            st.stop()
        problems = st.problems()
        errors = csms.errors()
    return res, problems, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="triggers per Accepted kind")
    ap.add_argument("--n-other", type=int, default=100, help="triggers per kind not Accepted here")
    a = ap.parse_args()
    print("%d triggers per Accepted kind, %d per other kind..." % (a.n, a.n_other), flush=True)
    res, problems, errors = run(a.n, a.n_other)
    rows = []
    data = {}
    ms = lambda v: "%.2f" % (v * 1000)  # noqa: E731
    for kind, r in res.items():
        st = ", ".join("%s %d" % kv for kv in sorted(r["statuses"].items()))
        resp, msg = r["resp"], r["msg"]
        rows.append((kind, st, len(resp), ms(kit.pct(resp, 50)), ms(kit.pct(resp, 99)), ms(max(resp)),
                     ms(kit.pct(msg, 50)) if msg else "-", ms(kit.pct(msg, 99)) if msg else "-",
                     ms(max(msg)) if msg else "-"))
        data[kind] = {"statuses": r["statuses"], "n": len(resp),
                      "response_ms": {"p50": kit.pct(resp, 50) * 1000, "p99": kit.pct(resp, 99) * 1000,
                                      "max": max(resp) * 1000},
                      "message_ms": ({"p50": kit.pct(msg, 50) * 1000, "p99": kit.pct(msg, 99) * 1000,
                                      "max": max(msg) * 1000, "n": len(msg)} if msg else None)}
    text = kit.table(("requestedMessage", "answers", "n", "resp p50 ms", "resp p99", "resp max",
                           "msg p50 ms", "msg p99", "msg max"), rows)
    text += ("\n\nLoopback, one trigger at a time, CSMS = tools/csms/dev.py (`ocpp` package, validating), station = "
             "firmware .mpy under the Unix port with 2 EVSEs charging. resp = TriggerMessage sent -> response "
             "received; msg = TriggerMessage sent -> the triggered CALL received (CSMS frame timestamps). "
             "SignChargingStationCertificate's message includes a fresh P-256 key and CSR; TransactionEvent's goes "
             "through the on-flash queue (a file write and rename).")
    if problems or errors:
        text += "\n\nPROBLEMS: station log %r, CSMS errors %r" % (problems[:3], errors[:3])
    data["problems"] = problems[:10]
    data["csms_errors"] = [repr(e) for e in errors[:10]]
    kit.save("latency", "TriggerMessage latency (CSMS side, loopback)", text, data, "make bench-latency")
    if problems or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
