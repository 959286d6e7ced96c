"""The freeze manifests: the ESP32 board freezes exactly the station and its own modules (no benchmark helper,
no manifest, nothing twice), split as micropython-lib's aioble is: the core and optional packages, each with its
own manifest. A board that leaves the optional certificates out still runs: the certificate triggers answer
NotImplemented and CertificateSigned is NotSupported, everything else as before.

No MicroPython build tree here: the manifests run with stand-ins for include()/package()/module() that follow
the documented rules of MicroPython's tools/manifestfile.py (paths relative to the manifest being run)."""

import os
import shutil

from mpharness import ROOT, run_mp

FIRMWARE = os.path.join(ROOT, "firmware")
BOARD = os.path.join(ROOT, "boards", "esp32_devkitc")


def frozen(manifest, skip=()):
    """{module path as frozen: source file} of a manifest and what it includes (skip: manifests left out)."""
    out = {}

    def run(path):
        path = os.path.abspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "manifest.py")
        if any(path.endswith(s) for s in skip):
            return
        here = os.path.dirname(path)

        def include(p, **kw):
            if not p.startswith("$("):  # the port's own manifest is not ours to check
                run(os.path.join(here, p))

        def package(pkg, files=None, base_path="."):
            base = os.path.join(here, base_path)
            assert files is not None, "list the files: %s" % pkg
            for f in files:
                add(os.path.join(pkg, f), os.path.join(base, pkg, f))

        def module(name, base_path="."):
            add(name, os.path.join(here, base_path, name))

        def add(target, src):
            assert os.path.exists(src), src
            assert target not in out, "frozen twice: " + target
            out[target] = src

        prev = os.getcwd()
        os.chdir(here)
        try:
            with open(path) as f:
                exec(f.read(), {"include": include, "package": package, "module": module, "__file__": path})
        finally:
            os.chdir(prev)

    run(manifest)
    return out


def station_sources():
    out = set()
    for d, dirs, files in os.walk(os.path.join(FIRMWARE, "station")):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            if f.endswith(".py") and f != "manifest.py":
                out.add(os.path.relpath(os.path.join(d, f), FIRMWARE))
    return out


def test_the_board_freezes_the_station_and_its_own_modules_only():
    got = frozen(os.path.join(BOARD, "manifest.py"))
    own = {"station_board.py", "station_pins.py", "station_slots.py", "station_wifi.py"}
    if os.path.exists(os.path.join(ROOT, "build", "station_version.py")):  # a `make version-record` was run here
        own.add("station_version.py")
    assert set(got) == station_sources() | own
    top = {t.split("/")[0] for t in got}
    assert top == {"station"} | own  # one namespace of ours


def test_certificates_are_an_optional_package_with_its_own_manifest():
    core = frozen(os.path.join(FIRMWARE, "manifest.py"))
    certs = frozen(os.path.join(FIRMWARE, "station", "certs", "manifest.py"))
    assert certs and all(t.startswith("station/certs/") for t in certs)
    assert not any(t.startswith("station/certs/") for t in core)
    assert set(core) | set(certs) == station_sources()


_WITHOUT_CERTS = """
import sys
import station_board as board
from station import app, trigger
cfg = {"dir": sys.argv[1], "csms": "ws://127.0.0.1:9/ocpp", "id": "CS-NOCERT", "serial": "SN1", "evses": [1],
       "dm": {"SecurityCtrlr.OrganizationName": "Acme"}}
st = app.Station(board.make(cfg), cfg)
for k in ("SignChargingStationCertificate", "Heartbeat", "StatusNotification"):
    resp, after = trigger.handle(st.view, {"requestedMessage": k, "evse": {"id": 1, "connectorId": 1}})
    print("KIND", k, resp["status"])
print("HANDLES CertificateSigned", "CertificateSigned" in st.rpc._handlers)
"""


def test_a_board_without_certificates_runs_and_says_what_it_cannot_do(tmp_path):
    fw = tmp_path / "fw"
    for target in frozen(os.path.join(FIRMWARE, "manifest.py")):  # the core only, as frozen
        dst = fw / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(FIRMWARE, target), dst)
    script = tmp_path / "nocerts.py"
    script.write_text(_WITHOUT_CERTS)
    (tmp_path / "flash").mkdir()
    # only the copied core and the host board on the path: the repository's firmware/ is not reachable
    env_path = ":".join([".frozen", str(fw), os.path.join(ROOT, "boards", "host")])
    rc, out = run_mp([str(script), str(tmp_path / "flash")], heap="512K", timeout=60, path=env_path)
    assert rc == 0, out
    assert "KIND SignChargingStationCertificate NotImplemented" in out, out
    assert "KIND Heartbeat Accepted" in out and "KIND StatusNotification Accepted" in out, out
    assert "HANDLES CertificateSigned False" in out, out


def partitions():
    rows = {}
    with open(os.path.join(BOARD, "partitions.csv")) as f:
        for ln in f:
            if ln.strip() and not ln.startswith("#"):
                name, typ, sub, off, size = (c.strip() for c in ln.split(","))
                rows[name] = (typ, sub, int(off, 16), int(size, 16))
    return rows


def test_the_partition_table_has_two_app_slots_for_the_firmware_and_room_for_the_vfs():
    p = partitions()
    assert p["otadata"][:2] == ("data", "ota")  # where the bootloader keeps which slot boots and its state
    slots = [p["ota_0"], p["ota_1"]]
    assert [s[:2] for s in slots] == [("app", "ota_0"), ("app", "ota_1")] and "factory" not in p
    for _, _, off, size in slots:
        assert off % 0x10000 == 0  # app partitions are 64 KiB aligned
        # the stock OTA variant's 1.5 MiB slots, plus the frozen firmware with room to grow (about 3x its .mpy)
        assert size >= 0x180000 + 3 * 75 * 1024
    spans = sorted((off, off + size) for _, _, off, size in p.values())
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # nothing overlaps
    # MicroPython (v1.26+) makes the vfs from the end of the last partition to the end of the flash (4 MiB)
    assert 4 * 1024 * 1024 - spans[-1][1] >= 256 * 1024


def test_the_build_settings_name_that_table_and_keep_rollback_on():
    with open(os.path.join(BOARD, "sdkconfig.partitions")) as f:
        cfg = dict(ln.strip().split("=", 1) for ln in f if "=" in ln and not ln.startswith("#"))
    assert cfg["CONFIG_PARTITION_TABLE_CUSTOM"] == "y" and cfg["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert cfg["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"] == '"partitions-ocpp-station.csv"'  # README's copy step


def test_a_frozen_build_carries_the_version_record_when_one_was_written(tmp_path):
    from tools.build import image

    for d in ("firmware", os.path.join("boards", "esp32_devkitc")):
        shutil.copytree(os.path.join(ROOT, d), tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    board = str(tmp_path / "boards" / "esp32_devkitc")
    assert "station_version.py" not in frozen(board)  # none written: config.json's "firmware" is reported
    (tmp_path / "build").mkdir()
    image.record("1.2.3", str(tmp_path / "build" / "station_version.py"))
    src = frozen(board)["station_version.py"]
    assert os.path.normpath(src) == str(tmp_path / "build" / "station_version.py")
    ns = {}
    exec(open(src).read(), ns)
    assert ns["VERSION"] == "1.2.3"
