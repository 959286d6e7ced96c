# What the firmware-update and log-upload code last reported, for the triggered status notifications.
import json

_FW = "fw.json"


class FwState:
    # The last FirmwareStatusNotification sent survives a reboot (an install reboots the station).
    def __init__(self, store):
        self._store = store
        raw = store.read(_FW) if store else None
        try:
            self.status, self.request_id = json.loads(raw) if raw else (None, None)
        except ValueError:
            self.status, self.request_id = None, None

    def sent(self, status, request_id=None):
        """The update code sent a FirmwareStatusNotification with this status."""
        self.status, self.request_id = status, request_id
        if self._store:
            self._store.write(_FW, json.dumps((status, request_id)))

    def trigger_payload(self):
        # F06.FR.16 / L01.FR.25: Idle when nothing is going on or the last status sent was Installed;
        # otherwise the last status sent, with its requestId (L01.FR.26), failures included.
        if self.status is None or self.status == "Installed":
            return {"status": "Idle"}
        p = {"status": self.status}
        if self.request_id is not None:
            p["requestId"] = self.request_id
        return p


class LogState:
    # An upload does not survive a reboot, so this lives in RAM only.
    def __init__(self):
        self.uploading = None  # requestId of the running GetLog upload

    def trigger_payload(self):
        # F06.FR.14: Uploading with the requestId while an upload runs; F06.FR.15 / N01.FR.13: Idle, no requestId.
        if self.uploading is None:
            return {"status": "Idle"}
        return {"status": "Uploading", "requestId": self.uploading}
