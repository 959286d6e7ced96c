"""`make demo` is the README's "run it" command: it must finish, exit 0 and show the summary table."""

import os
import subprocess
import sys

from tools import ROOT


def test_demo_runs_and_every_trigger_kind_is_in_the_summary():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo", "demo.py")], capture_output=True, text=True,
                       timeout=180, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    table = p.stdout[p.stdout.index("requestedMessage  "):]
    for kind in ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent",
                 "LogStatusNotification", "FirmwareStatusNotification", "SignChargingStationCertificate",
                 "SignV2GCertificate", "SignCombinedCertificate", "PublishFirmwareStatusNotification"):
        assert "\n" + kind + " " in table, kind
    assert "1 x SignCertificate" in table and "2 x MeterValues" in table
    assert "FAILED" not in p.stdout
