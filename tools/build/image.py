"""Build the firmware image: a ROMFS of the compiled firmware and a board's modules, with a version record.

    .venv/bin/python tools/build/image.py --board host --version 1.2.3 --out fw.img [--firmware DIR]
    make image BOARD=host VERSION=1.2.3 OUT=fw.img [FIRMWARE=DIR]
    make version-record VERSION=1.2.3     (build/station_version.py, which a frozen ESP32 build freezes)

The image (vfs.VfsRom, mounted at /rom by the board's boot stage) holds
    station/...              the firmware package as .mpy (from DIR, default firmware/)
    station_board.mpy, ...   the board's modules (boards/<board>/, not main.py/boot.py/manifest.py, not
                             station_slots.py: that one is the boot stage, which picks the image)
    station_version.mpy      VERSION = "<version>": what BootNotification reports as firmwareVersion
Deterministic: files in sorted order, .mpy with the source names firmware/... and boards/<board>/... whatever
DIR is, no time stamps; the same inputs give the same bytes. The ROMFS format is written by mpremote's
VfsRomWriter (the tool MicroPython documents for building ROMFS images).
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile

from mpremote.romfs import VfsRomWriter

from tools import ROOT
from tools.build import mpy

BOOT_STAGE = ("station_slots.py",)  # a board's modules that stay outside the image: they choose it
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,49}$")  # firmwareVersion is string[0..50]


def _files(top, prefix=""):
    # (image path, bytes) of every .mpy under top, directories depth first, names sorted
    out = []
    for name in sorted(os.listdir(top)):
        p = os.path.join(top, name)
        if os.path.isdir(p):
            out += _files(p, prefix + name + "/")
        elif name.endswith(".mpy"):
            with open(p, "rb") as f:
                out.append((prefix + name, f.read()))
    return out


def _write(w, files):
    cur = []
    for path, data in files:
        parts = path.split("/")
        while cur and cur != parts[: len(cur)]:
            w.closedir()
            cur.pop()
        for d in parts[len(cur):-1]:
            w.opendir(d)
            cur.append(d)
        w.mkfile(parts[-1], data)
    for _ in cur:
        w.closedir()


def record(version, src):
    """Write the version record's source to src (a frozen build freezes it: boards/esp32_devkitc/manifest.py)."""
    if not _VERSION.match(version):
        raise SystemExit("bad version %r: 1-50 of [0-9A-Za-z.+_-]" % version)
    with open(src, "w") as f:
        f.write("# the build's version record (tools/build/image.py)\nVERSION = %r\n" % version)
    return src


def _version_mpy(version, tmp):
    src = record(version, os.path.join(tmp, "station_version.py"))
    out = os.path.join(tmp, "station_version.mpy")
    subprocess.run([mpy.mpy_cross(), "-march=xtensawin", "-s", "station_version.py", "-o", out, src], check=True)
    with open(out, "rb") as f:
        return f.read()


def build(board="host", version=None, firmware=None):
    """The image's bytes. version None: "dev-" and 12 hex digits of the compiled files' SHA-256."""
    firmware = os.path.abspath(firmware or os.path.join(ROOT, "firmware"))
    board_dir = os.path.join(ROOT, "boards", board)
    if not os.path.isdir(board_dir):
        raise SystemExit("no board %r (boards/%s/)" % (board, board))
    with tempfile.TemporaryDirectory(prefix="image-") as tmp:
        if firmware == os.path.join(ROOT, "firmware"):  # the tree itself: build/mpy/, compiled where changed
            fw, bd = mpy.build(board)
            fw = os.path.join(fw, "station")
        else:  # a copy (a test's modified tree): compiled afresh
            fw = mpy.compile_tree(os.path.join(firmware, "station"), os.path.join(tmp, "fw"), "firmware/station",
                                  ("manifest.py",))
            bd = mpy.build(board)[1]
        board_files = [f for f in _files(bd) if "/" not in f[0] and f[0][:-4] + ".py" not in BOOT_STAGE]
        files = _files(fw, "station/") + board_files
        if version is None:
            # the compiled files name the build: the same sources, the same version
            h = hashlib.sha256()
            for path, data in files:
                h.update(path.encode() + b"\0" + data)
            version = "dev-" + h.hexdigest()[:12]
        if not _VERSION.match(version):
            raise SystemExit("bad version %r: 1-50 of [0-9A-Za-z.+_-]" % version)
        files.append(("station_version.mpy", _version_mpy(version, tmp)))
        w = VfsRomWriter()
        _write(w, files)
        return w.finalise()


def version_of(path):
    """The version record of the image file at path, read as the firmware reads it: MicroPython mounts the
    image and imports station_version (None if that fails: not an image, or none of ours)."""
    code = ("import vfs,sys;vfs.mount(vfs.VfsRom(open(%r,'rb').read()),'/rom');sys.path[:0]=['/rom'];"
            "import station_version;print(station_version.VERSION)" % os.path.abspath(path))
    r = subprocess.run([mpy.micropython(), "-c", code], capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="host")
    ap.add_argument("--version", help="firmwareVersion (default dev-<hash of the compiled files>)")
    ap.add_argument("--out", help="the image file to write")
    ap.add_argument("--firmware", help="the firmware tree (default firmware/)")
    ap.add_argument("--record", metavar="PATH", help="write only the version record's source, for a frozen build")
    a = ap.parse_args(argv)
    if a.record:
        print("%s: VERSION = %r" % (record(a.version or "dev", a.record), a.version or "dev"))
        return
    if not a.out:
        ap.error("--out is required")
    img = build(a.board, a.version, a.firmware)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(img)
    os.replace(tmp, a.out)
    print("%s: %d bytes, board %s, version %s, sha256 %s" % (a.out, len(img), a.board, version_of(a.out),
                                                             hashlib.sha256(img).hexdigest()[:16]))


if __name__ == "__main__":
    sys.exit(main())
