"""The firmware as an image (issue 15): the builder is deterministic, the simulator boots the station from slot A,
a flashed image boots pending verify and confirms itself after its first Accepted BootNotification, and an image
that raises at import, hangs before confirming, or exits is handled as a board's bootloader and reset would:
rollback to the previous slot, or a restart. The station is the real firmware under the Unix port (tools/sim.py),
the CSMS the `ocpp` package; the broken images are built with FIRMWARE= from a modified copy of firmware/."""

import os
import shutil
import subprocess

from boards.host.sim.simctl import Station, payloads
from tools import ROOT
from tools.build import image
from tools.csms.dev import CSMS

APP = os.path.join("station", "app.py")


def modified_image(tmp_path, version, old, new):
    """An image built from a copy of firmware/ whose station/app.py has old replaced by new."""
    tree = tmp_path / ("fw-" + version)
    shutil.copytree(os.path.join(ROOT, "firmware"), tree, ignore=shutil.ignore_patterns("__pycache__"))
    src = (tree / APP).read_text()
    assert old in src, "station/app.py changed: %r is gone" % old
    (tree / APP).write_text(src.replace(old, new, 1))
    out = tmp_path / (version + ".img")
    out.write_bytes(image.build("host", version, firmware=str(tree)))
    return out


def flash(st, img):
    """A technician's cable: img into the inactive slot, and the board resets into it. Returns the log mark
    from before (st.wait_log(..., since=n)) once the simulator says it wrote slot b, the one not running."""
    n = st.mark()
    assert st.cmd(cmd="flash", image=str(img))["slot"] == "b"
    return n


def wait_answered(csms, action):
    """Until the CSMS has answered every CALL of action the station sent so far."""
    ids = [m.id for m in csms.messages(action)]
    csms.wait(lambda log: set(ids) <= {m.id for m in log if m.dir == "out" and m.type == 3})


def versions(csms, sid):
    return [(b["reason"], b["chargingStation"].get("firmwareVersion")) for b in payloads(csms, "BootNotification", sid)]


def test_the_same_inputs_give_the_same_image(tmp_path):
    a = image.build("host", "1.2.3")
    assert image.build("host", "1.2.3") == a
    # a copy of the tree elsewhere compiles to the same bytes (source names are firmware/..., not the path)
    shutil.copytree(os.path.join(ROOT, "firmware"), tmp_path / "fw", ignore=shutil.ignore_patterns("__pycache__"))
    assert image.build("host", "1.2.3", firmware=str(tmp_path / "fw")) == a
    assert image.build("host", "1.2.4") != a
    # one changed line changes the image, and its default version with it
    (tmp_path / "fw" / APP).write_text((tmp_path / "fw" / APP).read_text() + "\n_X = 1\n")
    assert image.build("host", "1.2.3", firmware=str(tmp_path / "fw")) != a
    out = tmp_path / "fw.img"
    subprocess.run(["make", "-s", "image", "BOARD=host", "VERSION=1.2.3", "OUT=%s" % out], cwd=ROOT, check=True,
                   capture_output=True)
    assert out.read_bytes() == a
    assert image.version_of(str(out)) == "1.2.3"  # as the firmware reads it: mounted, imported


def test_a_fresh_board_boots_slot_a_and_reports_its_version(stations):
    with CSMS(interval=300) as csms:
        st = stations(csms, "CS-IMG", extra=("--version", "1.2.3"))
        csms.wait_for("StatusNotification", timeout=20)
        assert versions(csms, "CS-IMG") == [("PowerUp", "1.2.3")]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"], s["boots"]) == ("a", "1.2.3", True, 1)
        st.wait_log("boot: slot a, version 1.2.3, confirmed")


def test_a_flashed_image_boots_pending_and_confirms_after_an_accepted_boot(stations, tmp_path):
    new = tmp_path / "2.0.0.img"
    new.write_bytes(image.build("host", "2.0.0"))
    with CSMS(interval=300) as csms:
        st = stations(csms, "CS-FL", extra=("--version", "1.0.0"))
        csms.wait_for("StatusNotification", timeout=20)
        n = flash(st, new)
        st.wait_log("boot: slot b, version 2.0.0, pending verify", since=n, timeout=20)
        st.wait_log("image in slot b confirmed", since=n, timeout=20)
        assert versions(csms, "CS-FL") == [("PowerUp", "1.0.0"), ("FirmwareUpdate", "2.0.0")]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"], s["boots"]) == ("b", "2.0.0", True, 2)
        n = st.mark()
        st.cmd(cmd="power_cut")  # confirmed: it stays
        st.wait_log("boot: slot b, version 2.0.0, confirmed", since=n, timeout=20)
        csms.wait_for("BootNotification", 3, timeout=20)
        assert versions(csms, "CS-FL")[-1] == ("PowerUp", "2.0.0")


def test_a_boot_the_csms_leaves_pending_does_not_confirm_the_image(stations, tmp_path):
    new = tmp_path / "2.0.0.img"
    new.write_bytes(image.build("host", "2.0.0"))
    with CSMS(interval=300, boot="Pending") as csms:
        st = stations(csms, "CS-PD", extra=("--version", "1.0.0"))
        csms.wait_for("BootNotification", timeout=20)
        n = flash(st, new)
        csms.wait_for("BootNotification", 2, timeout=20)
        wait_answered(csms, "BootNotification")
        # Pending is not Accepted: the self-test has not passed, the image stays unconfirmed
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"]) == ("b", "2.0.0", False)
        assert "image in slot b confirmed" not in "\n".join(st.lines[n:])


def test_a_power_cut_before_the_confirmation_rolls_back(stations, tmp_path):
    new = tmp_path / "2.0.0.img"
    new.write_bytes(image.build("host", "2.0.0"))
    with CSMS(interval=300, boot="Pending") as csms:  # never Accepted: the new image cannot confirm
        st = stations(csms, "CS-PC", extra=("--version", "1.0.0"))
        csms.wait_for("BootNotification", timeout=20)
        flash(st, new)
        csms.wait_for("BootNotification", 2, timeout=20)
        n = st.mark()
        st.cmd(cmd="power_cut")
        st.wait_log("boot: slot a, version 1.0.0, confirmed, rolled back", since=n)
        csms.wait_for("BootNotification", 3, timeout=20)
        assert [v for _, v in versions(csms, "CS-PC")] == ["1.0.0", "2.0.0", "1.0.0"]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"], s["boots"]) == ("a", "1.0.0", True, 3)


def expected_problems(st, text):
    """The station's error lines and tracebacks, all of them the expected one (text in each)."""
    got = st.problems()
    assert got and all(text in p for p in got), "\n".join(got)


def test_an_image_that_raises_at_import_is_rolled_back(tmp_path):
    bad = modified_image(tmp_path, "2.0.0-broken", "class Station:",
                         "raise RuntimeError('broken build')\n\n\nclass Station:")
    with CSMS(interval=300) as csms, Station(csms.url + "/ocpp", "CS-RB", extra=("--version", "1.0.0")) as st:
        csms.wait_for("StatusNotification", timeout=20)
        n = flash(st, bad)
        st.wait_log("RuntimeError: broken build", since=n, timeout=20)
        st.wait_log("sim: firmware exited (1); reset", since=n)
        st.wait_log("boot: slot a, version 1.0.0, confirmed, rolled back", since=n, timeout=20)
        csms.wait_for("BootNotification", 2, timeout=20)
        # the broken image never spoke to the CSMS; the old one came back, reset by the crash
        assert versions(csms, "CS-RB") == [("PowerUp", "1.0.0"), ("Watchdog", "1.0.0")]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"], s["boots"]) == ("a", "1.0.0", True, 3)
        assert st.alive()
        expected_problems(st, "broken build")


def test_an_image_that_hangs_before_confirming_is_reset_by_the_watchdog_and_rolled_back(tmp_path):
    # the new image's event loop stops at its self-test: nothing feeds the watchdog
    hung = modified_image(tmp_path, "2.0.0-hangs", "    def _accepted(self):\n",
                          "    def _accepted(self):\n        while True:\n            pass\n")
    with CSMS(interval=300) as csms, Station(csms.url + "/ocpp", "CS-WD", extra=("--version", "1.0.0")) as st:
        csms.wait_for("StatusNotification", timeout=20)
        n = flash(st, hung)
        st.wait_log("boot: slot b, version 2.0.0-hangs, pending verify", since=n, timeout=20)
        st.wait_log("sim: watchdog: not fed", since=n, timeout=30)
        st.wait_log("boot: slot a, version 1.0.0, confirmed, rolled back", since=n, timeout=20)
        boots = csms.wait_for("BootNotification", 3, timeout=20)
        assert [(b.payload["reason"], b.payload["chargingStation"]["firmwareVersion"]) for b in boots] == [
            ("PowerUp", "1.0.0"), ("FirmwareUpdate", "2.0.0-hangs"), ("Watchdog", "1.0.0")]
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"]) == ("a", "1.0.0", True)
        st.assert_clean()


def test_the_simulator_starts_a_firmware_that_exits_again(tmp_path):
    # an image that confirms itself, then ends its program once (as a soft reset would): the board starts it again
    line = '            log.info(_TAG, "image in slot %s confirmed", s.running)\n'
    quits = modified_image(tmp_path, "2.0.0-exits", line, line + "            raise SystemExit(0)\n")
    with CSMS(interval=300) as csms, Station(csms.url + "/ocpp", "CS-EX", extra=("--version", "1.0.0")) as st:
        csms.wait_for("StatusNotification", timeout=20)
        n = flash(st, quits)
        st.wait_log("image in slot b confirmed", since=n, timeout=20)
        st.wait_log("sim: firmware exited (0); reset", since=n)
        boots = csms.wait_for("BootNotification", 3, timeout=20)
        assert [(b.payload["reason"], b.payload["chargingStation"]["firmwareVersion"]) for b in boots] == [
            ("PowerUp", "1.0.0"), ("FirmwareUpdate", "2.0.0-exits"), ("ApplicationReset", "2.0.0-exits")]
        csms.wait_for("StatusNotification", 2, timeout=20)  # it runs on: confirmed already, no second exit
        s = st.cmd(cmd="state")
        assert (s["slot"], s["version"], s["confirmed"], s["boots"]) == ("b", "2.0.0-exits", True, 3)
        st.assert_clean()
