# Host "flash" for firmware images: two slots and a boot record, standing in for an ESP32's two OTA app
# partitions and its otadata (boards/esp32_devkitc/station_slots.py is the same adapter over esp32.Partition).
#   <dir>/a.img, <dir>/b.img   ROMFS images (tools/build/image.py)
#   <dir>/boot.json            {"active": "a", "state": "valid", "previous": "b" or null}
# States follow ESP-IDF's with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: an image just written is "new"; the
# boot that starts it makes it "pending" (pending verify); confirm() makes it "valid". A boot that finds
# "pending" knows that the last start never confirmed (it crashed, was reset or lost power first): it
# abandons that image and boots the previous one again (rollback).
# The boot loader (main.py) calls boot(); the station calls confirm() after its first Accepted
# BootNotification; writer() fills the slot that is not running (never the running one: its modules point
# into it) and switches to it only once the whole image is there and looks like one.
import json
import os

_MAGIC = b"\xd2\xcd\x31"  # a ROMFS image starts with these bytes


def image_size(head):
    """Bytes of the ROMFS image whose first bytes are head (its header records its length), or None."""
    if head[:3] != _MAGIC:
        return None
    n = 0
    for i in range(3, min(len(head), 13)):
        b = head[i]
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            return i + 1 + n
    return None


class Slots:
    def __init__(self, root, fs=os):
        # fs: open/rename/remove/stat (the port's os and open, or a test's flash stand-in)
        self.root = root
        self._fs = fs
        self._rec = None
        self.running = None  # the slot booted this time ("a" or "b")
        self.rolled_back = False  # this boot abandoned an image that never confirmed

    def path(self, slot):
        return self.root + "/" + slot + ".img"

    def _open(self, path, mode):
        return self._fs.open(path, mode) if self._fs is not os else open(path, mode)

    def record(self):
        if self._rec is None:
            try:
                with self._open(self.root + "/boot.json", "r") as f:
                    self._rec = json.load(f)
            except (OSError, ValueError):
                # No record yet: slot A as shipped (a torn record cannot be: it is replaced by rename)
                self._rec = {"active": "a", "state": "valid", "previous": None}
        return self._rec

    def _write(self, rec):
        tmp = self.root + "/boot.tmp"
        with self._open(tmp, "w") as f:
            f.write(json.dumps(rec))
        self._fs.rename(tmp, self.root + "/boot.json")
        self._rec = rec

    def valid(self, slot):
        # the slot holds a whole image (a write cut short leaves fewer bytes than its header says)
        try:
            with self._open(self.path(slot), "rb") as f:
                n = image_size(f.read(16))
            return n is not None and self._fs.stat(self.path(slot))[6] >= n
        except OSError:
            return False

    def boot(self):
        """The slot to start, after the bootloader's bookkeeping; None if no slot holds an image."""
        rec = dict(self.record())
        act, prev = rec["active"], rec.get("previous")
        other_ok = prev is not None and self.valid(prev)
        if rec["state"] == "pending" and other_ok or not self.valid(act) and other_ok:
            # the last start of act never confirmed it (or act is not a whole image): back to prev
            rec = {"active": prev, "state": "valid", "previous": None}
            self.rolled_back = True
        elif rec["state"] == "new":
            rec["state"] = "pending"
        if rec != self.record():
            self._write(rec)
        self.running = rec["active"]
        return self.running if self.valid(self.running) else None

    def confirmed(self):
        return self.record()["state"] == "valid"

    def confirm(self):
        # ESP32: esp32.Partition.mark_app_valid_cancel_rollback(); harmless on every boot
        rec = self.record()
        if rec["state"] != "valid":
            self._write({"active": rec["active"], "state": "valid", "previous": rec.get("previous")})
            return True
        return False

    def writer(self):
        return _Writer(self, "b" if self.running == "a" else "a")


class _Writer:
    # Fills the inactive slot front to back; finish() checks it and makes it the next boot's, pending verify.
    def __init__(self, slots, slot):
        self._s = slots
        self.slot = slot
        self._f = slots._open(slots.path(slot), "wb")
        self.size = 0

    def write(self, buf):
        self._f.write(buf)
        self.size += len(buf)

    def abort(self):
        self._f.close()

    def finish(self):
        self._f.close()
        if not self._s.valid(self.slot):
            # esp_ota_set_boot_partition refuses an image that does not validate (OSError there too)
            raise OSError(22)
        self._s._write({"active": self.slot, "state": "new", "previous": self._s.running})
