"""Compile the firmware (and a board's modules) to .mpy with mpy-cross: `make mpy`, tools/sim.py, benchmarks.

    .venv/bin/python tools/build/mpy.py [--board esp32_devkitc] [--sizes]

Output: build/mpy/firmware/... and build/mpy/<board>/... . Bytecode-only .mpy files are the same for every
port, so the one build (made with -march=xtensawin) runs on the ESP32 and under the Unix port alike.
A board's main.py and boot.py stay .py: the board runs them as scripts; freeze manifests are build scripts, and a
board's CPython folders (boards/host/sim/, the simulator) are not for the board at all: none of them is compiled.
Only changed files are recompiled, and .mpy files whose source is gone are removed.
"""

import argparse
import contextlib
import os
import subprocess
import sys

from tools import ROOT

OUT = os.path.join(ROOT, "build", "mpy")
_SCRIPTS = ("main.py", "boot.py", "manifest.py")
CPYTHON_DIRS = ("sim",)  # a board's folders that run under CPython, next to it: boards/host/sim/


def _venv_bin(name):
    # the venv's binary (make setup installs mpy-cross and the Unix port), else the one on PATH
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else name


def mpy_cross():
    return _venv_bin("mpy-cross")


def micropython():
    """The MicroPython Unix port: $STATION_MICROPYTHON (tools/build/unix32.py, firmware frozen in), else the venv's."""
    return os.environ.get("STATION_MICROPYTHON") or _venv_bin("micropython")


def _sources(top, skip=(), skip_dirs=()):
    for d, dirs, files in os.walk(top):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__" and not (d == top and x in skip_dirs))
        for f in sorted(files):
            if f.endswith(".py") and f not in skip:
                yield os.path.join(d, f)


def compile_tree(src_top, out_top, name_top, skip=(), skip_dirs=()):
    """Compile the .py files under src_top that changed into out_top; name_top + the relative path is the
    source name in tracebacks (-s), so a copy of the tree elsewhere compiles to the same bytes."""
    want = set()
    for src in _sources(src_top, skip, skip_dirs):
        rel = os.path.relpath(src, src_top)
        dst = os.path.join(out_top, rel[:-3] + ".mpy")
        want.add(dst)
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run([mpy_cross(), "-march=xtensawin", "-s", name_top + "/" + rel, "-o", dst, src], check=True)
    # an .mpy whose source is gone (moved, deleted, no longer compiled) would still import and count in sizes
    for d, _, files in os.walk(out_top):
        for f in files:
            if f.endswith(".mpy") and os.path.join(d, f) not in want:
                with contextlib.suppress(FileNotFoundError):  # another run removed it first
                    os.remove(os.path.join(d, f))
    return out_top


def build(board="host"):
    """Compile what changed; returns (firmware dir, board dir) of .mpy files."""
    # the source name in tracebacks stays the repository path, not the build path
    return (compile_tree(os.path.join(ROOT, "firmware"), os.path.join(OUT, "firmware"), "firmware", ("manifest.py",)),
            compile_tree(os.path.join(ROOT, "boards", board), os.path.join(OUT, board), "boards/" + board,
                         _SCRIPTS, CPYTHON_DIRS))


def unix_path(board="host"):
    """MICROPYPATH for the Unix port running the .mpy build (rebuilt first where stale): the port's frozen
    modules (asyncio), the firmware, the board's modules; with $STATION_MICROPYTHON only its frozen modules."""
    if os.environ.get("STATION_MICROPYTHON"):
        return ".frozen"
    return ":".join((".frozen",) + build(board))


def sizes(top):
    out = []
    for d, _, files in os.walk(top):
        for f in files:
            if f.endswith(".mpy"):
                p = os.path.join(d, f)
                out.append((os.path.relpath(p, top), os.path.getsize(p)))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="esp32_devkitc")
    ap.add_argument("--sizes", action="store_true", help="print the size of every .mpy")
    a = ap.parse_args()
    fw, bd = build(a.board)
    print("built %s and %s" % (os.path.relpath(fw, ROOT), os.path.relpath(bd, ROOT)))
    if a.sizes:
        total = 0
        for top in (fw, bd):
            for name, n in sizes(top):
                print("%7d  %s" % (n, os.path.join(os.path.basename(top), name)))
                total += n
        print("%7d  total" % total)


if __name__ == "__main__":
    main()
