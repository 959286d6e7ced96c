"""Type-check the device code (firmware/ and boards/) with mypy against the MicroPython ESP32 stubs.

    .venv/bin/python tools/typecheck.py          # exit status 0 when clean

micropython-esp32-stubs installs machine.pyi, time.pyi, ... as loose files in site-packages, which
mypy does not use from there (PEP 561 wants packages), and micropython-stdlib-stubs ships a
typeshed-shaped `stdlib/`. We join both into one typeshed directory (symlinks, under .mypy_cache/)
whose VERSIONS also lists the ESP32 modules, and hand that to mypy as its typeshed: then `time`
is MicroPython's time (ticks_ms ...), `machine` is the ESP32's, and nothing of CPython leaks in.
Settings are in mypy.ini. Each board folder is checked in its own run: both have a module `board`.
"""

import os
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = sysconfig.get_paths()["purelib"]
SHED = os.path.join(ROOT, ".mypy_cache", "mpstubs")


def _dist_entries(prefix):
    for d in os.listdir(SITE):
        if d.startswith(prefix) and d.endswith(".dist-info"):
            with open(os.path.join(SITE, d, "RECORD")) as f:
                tops = {line.split(",")[0].split("/")[0] for line in f}
            return sorted(t for t in tops if not t.endswith((".dist-info", ".md", ".toml")))
    raise SystemExit("%s is not installed (make setup)" % prefix)


def build_typeshed():
    """(Re)build the joined typeshed directory; returns its path."""
    std = os.path.join(SHED, "stdlib")
    os.makedirs(std, exist_ok=True)
    for name in os.listdir(std):
        p = os.path.join(std, name)
        if os.path.islink(p) or name == "VERSIONS":
            os.unlink(p)
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
    stubs = os.path.join(SHED, "stubs")
    if not os.path.lexists(stubs):
        os.symlink(os.path.join(SITE, "stubs"), stubs)
    return SHED


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
        cmd = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--custom-typeshed-dir", shed] + targets
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out.append("$ mypy %s\n%s%s" % (" ".join(targets), p.stdout, p.stderr))
        status = status or p.returncode
    return status, "".join(out)


if __name__ == "__main__":
    rc, text = run()
    print(text, end="")
    sys.exit(rc)
