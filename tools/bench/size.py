"""Code size for the ESP32: bytes of .mpy (mpy-cross -march=xtensawin, via tools/build/mpy.py) per module and total,
and the Modbus wire budget of one meter poll (tools/bench/modbus.py, run as it is) in the same table.

    .venv/bin/python tools/bench/size.py [--board esp32_devkitc] [--no-modbus]
"""

import argparse
import contextlib
import io
import os
import re

from tools.bench import kit
from tools.build import mpy


def modbus_budget():
    """Run tools/bench/modbus.py's main() and take its measured row (the firmware's own poll)."""
    from tools.bench import modbus as bench_modbus

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench_modbus.main()
    out = buf.getvalue()
    m = re.search(r"^measured \(firmware, (\d+) block reads\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)",
                  out, re.M)
    if not m:
        raise RuntimeError("bench_modbus output not understood:\n" + out)
    n, trans, req, rep, total, ms, ms_sil = m.groups()
    return {"transactions": int(trans), "request_bytes": int(req), "reply_bytes": int(rep),
            "total_bytes": int(total), "wire_ms": float(ms), "wire_ms_with_silence": float(ms_sil)}, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="esp32_devkitc")
    ap.add_argument("--no-modbus", action="store_true")
    a = ap.parse_args()
    fw, bd = mpy.build(a.board)
    rows = []
    per = {}
    groups = {}
    for top in (fw, bd):
        for name, n in mpy.sizes(top):
            key = os.path.join(os.path.basename(top), name)
            per[key] = n
            rows.append((key, n))
            # by folder: firmware/station/<concern>/..., the package's own top level, the board's modules
            parts = key.split("/")
            g = "/".join(parts[1:-1]) if len(parts) > 2 else parts[0] + " (top level)"
            groups[g] = groups.get(g, 0) + n
    total = sum(per.values())
    fw_total = sum(n for k, n in per.items() if k.startswith("firmware/"))
    text = kit.table(("module (.mpy, xtensawin)", "bytes"), rows + [("**total**", total)])
    text += "\n\n" + kit.table(("package", "bytes"), sorted(groups.items()) +
                                    [("firmware/ only", fw_total), ("board %s" % a.board, total - fw_total)])
    data = {"modules": per, "total": total, "firmware_total": fw_total, "board": a.board}
    if not a.no_modbus:
        mb, _ = modbus_budget()
        data["modbus_poll"] = mb
        text += "\n\nModbus wire budget per meter poll (SDM630: V, I, P per phase, total P, import energy, " \
                "frequency at 9600 8N1; from tools/bench/modbus.py):\n\n" + kit.table(
                    ("transactions", "request B", "reply B", "total B", "on the wire ms", "+ 3.5-char silences ms"),
                    [(mb["transactions"], mb["request_bytes"], mb["reply_bytes"], mb["total_bytes"], mb["wire_ms"],
                      mb["wire_ms_with_silence"])])
    kit.save("size", "Code size (ESP32 .mpy) and Modbus wire budget", text, data, "make bench-size")


if __name__ == "__main__":
    main()
