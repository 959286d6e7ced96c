"""Build the MicroPython Unix port 32-bit (i686) with the firmware frozen in: `make unix32`, heap benchmarks.

    .venv/bin/python tools/build/unix32.py --micropython-dir DIR [--out build/unix32/micropython]

The closest stand-in for an ESP32 this machine allows: 4-byte pointers and objects as on the Xtensa (the .venv's
micropython is 64-bit: objects about twice their size), bytecode frozen into the binary as into a board's flash.
DIR is your MicroPython checkout (the .venv micropython's version) with lib/mbedtls checked out (hashlib's sha1 and
tls, for the WebSocket client); nothing is downloaded. Needs Debian's gcc-i686-linux-gnu. Left out, as an i686 build
lacks them: libffi (ffi), and btree unless lib/berkeley-db-1.xx is checked out. Frozen (build/unix32/manifest.py):
firmware/ as a board's manifest includes it, the host board's modules (not main.py, which the simulator runs as a
script, nor sim/) and the port's asyncio. Use: STATION_MICROPYTHON=build/unix32/micropython tools/sim.py --no-image.
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys

from tools import ROOT

OUT = os.path.join(ROOT, "build", "unix32")
I686_LIB = "/usr/i686-linux-gnu/lib"
BOARD_MODULES = ("station_board.py", "station_heapmon.py", "station_holdmon.py", "station_slots.py")  # boards/host/


def manifest(path):
    fw = os.path.join(ROOT, "firmware")
    lines = ['include("$(MPY_DIR)/extmod/asyncio")',
             'include(%r)' % os.path.join(fw, "manifest.py"),
             'include(%r)' % os.path.join(fw, "station", "certs", "manifest.py")]
    lines += ['module(%r, base_path=%r)' % (m, os.path.join(ROOT, "boards", "host")) for m in BOARD_MODULES]
    with open(path, "w") as f:
        f.write("# Written by tools/build/unix32.py\n" + "\n".join(lines) + "\n")
    return path


def _checked_out(mpdir, sub):
    d = os.path.join(mpdir, "lib", sub)
    return os.path.isdir(d) and bool(os.listdir(d))  # a submodule not checked out is an empty folder


def build(mpdir, out):
    mpdir = os.path.abspath(mpdir)
    if not _checked_out(mpdir, "mbedtls"):
        sys.exit("%s/lib/mbedtls is not checked out (git submodule update --init lib/mbedtls)" % mpdir)
    os.makedirs(OUT, exist_ok=True)
    opts = ["CROSS_COMPILE=i686-linux-gnu-", "MICROPY_PY_FFI=0", "BUILD=" + os.path.join(OUT, "build"),
            "FROZEN_MANIFEST=" + manifest(os.path.join(OUT, "manifest.py")),
            # the cross compiler's own i386 C library, so that no i386 packages are needed on the host to run it
            "LDFLAGS_EXTRA=-Wl,--dynamic-linker=%s/ld-linux.so.2 -Wl,-rpath=%s" % (I686_LIB, I686_LIB)]
    if not _checked_out(mpdir, "berkeley-db-1.xx"):
        opts.append("MICROPY_PY_BTREE=0")
    if not _checked_out(mpdir, "micropython-lib"):
        # nothing frozen comes from micropython-lib, but the port checks for it: an empty stand-in
        stub = os.path.join(OUT, "no-micropython-lib")
        os.makedirs(stub, exist_ok=True)
        open(os.path.join(stub, "README.md"), "w").close()
        opts.append("MPY_LIB_DIR=" + stub)
    jobs = "-j%d" % (os.cpu_count() or 1)
    # not the variables of a `make unix32` that runs this: MicroPython's makefiles take them as their own
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    # mpy-cross first, for the host: built by the port's make it would inherit CROSS_COMPILE
    subprocess.run(["make", jobs, "-C", os.path.join(mpdir, "mpy-cross")], check=True, env=env)
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(OUT, "build", "micropython"))  # linked again: make does not see changed options
    subprocess.run(["make", jobs, "-C", os.path.join(mpdir, "ports", "unix")] + opts, check=True, env=env)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    shutil.copy(os.path.join(OUT, "build", "micropython"), out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--micropython-dir", required=True, help="a MicroPython source checkout")
    ap.add_argument("--out", default=os.path.join(OUT, "micropython"))
    a = ap.parse_args()
    print("built " + os.path.relpath(build(a.micropython_dir, a.out), ROOT))


if __name__ == "__main__":
    main()
