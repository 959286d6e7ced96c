"""Type-check the device code (firmware/ and boards/) with mypy against the MicroPython ESP32 stubs.

    .venv/bin/python tools/build/typecheck.py          # exit status 0 when clean

micropython-esp32-stubs installs machine.pyi, time.pyi, ... as loose files in site-packages, which
mypy does not use from there (PEP 561 wants packages), and micropython-stdlib-stubs ships a
typeshed-shaped `stdlib/`. We join both into one typeshed directory (symlinks, under .mypy_cache/)
whose VERSIONS also lists the ESP32 modules, and hand that to mypy as its typeshed: then `time`
is MicroPython's time (ticks_ms ...), `machine` is the ESP32's, and nothing of CPython leaks in.
Settings are in mypy.ini. Each board folder is checked in its own run: both have a module `station_board`. A board's
CPython folders (tools/build/mpy.py CPYTHON_DIRS: boards/host/sim/, the simulator) are not device code.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

from tools import ROOT
from tools.build.mpy import CPYTHON_DIRS

SITE = sysconfig.get_paths()["purelib"]
SHED_DIR = os.path.join(ROOT, ".mypy_cache")


def _dist_name(prefix):
    for d in os.listdir(SITE):
        if d.startswith(prefix + "-") and d.endswith(".dist-info"):
            return d[len(prefix) + 1 : -len(".dist-info")]
    raise SystemExit("%s is not installed (make setup)" % prefix)


def _dist_entries(prefix):
    with open(os.path.join(SITE, "%s-%s.dist-info" % (prefix, _dist_name(prefix)), "RECORD")) as f:
        tops = {line.split(",")[0].split("/")[0] for line in f}
    return sorted(t for t in tops if not t.endswith((".dist-info", ".md", ".toml")))


def build_typeshed():
    """The joined typeshed directory for the installed stub versions; built once, race-free.

    Other test runs may use the same work tree at the same time: build under a private name, then
    rename into place (the loser of a race just discards its copy).
    """
    key = "-".join(_dist_name(p) for p in ("micropython_stdlib_stubs", "micropython_esp32_stubs"))
    final = os.path.join(SHED_DIR, "mpstubs-" + key)
    if os.path.exists(os.path.join(final, "stdlib", "VERSIONS")):
        return final
    tmp = "%s.tmp%d" % (final, os.getpid())
    std = os.path.join(tmp, "stdlib")
    os.makedirs(std)
    src_std = os.path.join(SITE, "stdlib")
    for name in os.listdir(src_std):
        if name != "VERSIONS":
            os.symlink(os.path.join(src_std, name), os.path.join(std, name))
    with open(os.path.join(src_std, "VERSIONS")) as f:
        versions = f.read()
    listed = {ln.split(":")[0].strip() for ln in versions.splitlines() if ":" in ln and not ln.startswith("#")}
    extra = [t for t in _dist_entries("micropython_stdlib_stubs") if t not in ("stdlib", "stubs")]
    extra += _dist_entries("micropython_esp32_stubs")
    lines = []
    for top in extra:
        os.symlink(os.path.join(SITE, top), os.path.join(std, top))
        mod = top[:-4] if top.endswith(".pyi") else top
        if mod not in listed:
            lines.append("%s: 3.0-\n" % mod)
    with open(os.path.join(std, "VERSIONS"), "w") as f:
        f.write(versions.rstrip("\n") + "\n" + "".join(lines))
    os.symlink(os.path.join(SITE, "stubs"), os.path.join(tmp, "stubs"))
    try:
        os.rename(tmp, final)
    except OSError:  # another run got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _boards():
    d = os.path.join(ROOT, "boards")
    return sorted(b for b in os.listdir(d) if os.path.isdir(os.path.join(d, b)))


def run():
    """Run mypy once per board (firmware/ with the first); returns (exit status, output)."""
    shed = build_typeshed()
    status, out = 0, []
    for i, b in enumerate(_boards()):
        targets = ["firmware"] if i == 0 else []
        targets.append(os.path.join("boards", b))
        cmd = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--custom-typeshed-dir", shed]
        cmd += ["--exclude", "^boards/[^/]+/(%s)/" % "|".join(CPYTHON_DIRS)] + targets
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out.append("$ mypy %s\n%s%s" % (" ".join(targets), p.stdout, p.stderr))
        status = status or p.returncode
    return status, "".join(out)


if __name__ == "__main__":
    rc, text = run()
    print(text, end="")
    sys.exit(rc)
