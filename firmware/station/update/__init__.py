# Firmware update (L01) and Reset (B11/B12). Only this file is imported at every boot: it tells whether an
# update job or a reset left a record on flash (app.py then loads the update code to finish the job) and
# what the BootNotification's reason is. The rest (job.py, run.py, check.py, reset.py) is loaded when an
# UpdateFirmware or a Reset arrives, or a job is on flash.
import json

JOB = "fwjob"  # the one job record (job.py)
RESET = "reset"  # written just before a reset the CSMS asked for


def job_on_flash(store):
    return store.read(JOB) is not None


def boot_reason(store, cause):
    """The BootNotification reason of this boot: RemoteReset after a Reset, FirmwareUpdate after the
    install reset of an update (also when the boot loader rolled the new image back), else the board's
    cause."""
    if store.read(RESET) is not None:
        store.remove(RESET)
        return "RemoteReset"
    raw = store.read(JOB)
    if raw:
        try:
            if json.loads(raw).get("ph") in ("inst", "boot"):
                return "FirmwareUpdate"
        except (ValueError, AttributeError):
            pass
    return cause
