# Host entry and boot loader: micropython boards/host/main.py <config.json> [reset cause]
# (tools/sim.py writes the config and starts this with MICROPYPATH = the port's frozen modules and
# build/mpy/host, where this boot stage finds station_slots).
#
# With cfg["slots"] (the simulator's default) it does what an ESP32's bootloader does: it picks the image
# slot to start (station_slots.py: pending verify, rollback), mounts that image at /rom (vfs.VfsRom) and
# runs the station from it, bytecode in place; nothing else is importable then but the port's own modules.
# The Unix port has no memory-mapped flash, so the image is read into one buffer in the heap, allocated
# before anything else (tools/sim.py adds its size to --heap; on a board the bytes stay in flash), and the
# name table is grown for the whole image before the station starts (_warm).
# Without cfg["slots"] the station runs from the .mpy files on MICROPYPATH (a test's or a benchmark's choice).
import json
import os
import sys

with open(sys.argv[1]) as f:
    cfg = json.load(f)
if len(sys.argv) > 2:
    cfg["reset_cause"] = sys.argv[2]


def _warm(top, name):
    # Grow MicroPython's name table while the heap is still empty: import every module of the image once
    # and drop it again. Loaded from ROMFS a module's names point into the image, but each pool of table
    # entries is one block in the heap, twice the size of the last; the 1,280-entry pool (~14 KB here) asked
    # for after a walk-through of lazy imports found no block that size at --heap 256K, and the update's
    # import failed. Paid at boot even by a station that never updates (+16 KB after start-up), the price of
    # a heap that is known at boot. Frozen on an ESP32 the names are in flash: a board does not need this.
    import gc

    old = set(sys.modules)
    for entry in sorted(os.ilistdir(top)):
        n, kind = entry[0], entry[1]
        if kind == 0x4000:
            _warm(top + "/" + n, name + "." + n)
        elif n.endswith(".mpy"):
            m = name if n == "__init__.mpy" else name + "." + n[:-4]
            try:
                __import__(m)
            except Exception as e:  # a module the host cannot import: its names come when it is used
                print("boot: warm %s: %r" % (m, e))
    for m in set(sys.modules) - old:
        parent, _, leaf = m.rpartition(".")
        if parent in old:
            try:
                delattr(sys.modules[parent], leaf)
            except AttributeError:
                pass
        del sys.modules[m]
    gc.collect()


slots = None
if cfg.get("slots"):
    import vfs

    import station_slots

    slots = station_slots.Slots(cfg["slots"])
    slot = slots.boot()
    if slot is None:
        print("boot: no image in %s" % cfg["slots"])
        sys.exit(2)
    path = slots.path(slot)
    img = bytearray(os.stat(path)[6])
    with open(path, "rb") as f:
        f.readinto(img)
    vfs.mount(vfs.VfsRom(img), "/rom")  # type: ignore[attr-defined]  # the stubs predate VfsRom
    sys.path[:] = ["/rom", ".frozen"]  # the image and the port's modules, nothing from the host's disk
    import station_version  # type: ignore[import-not-found]  # written into the image by tools/build/image.py

    cfg["firmware"] = station_version.VERSION
    _warm("/rom/station", "station")

# after the mount: from the image when there is one
import station_board  # noqa: E402
from station import app, log  # noqa: E402

if slots:
    log.info("boot", "slot %s, version %s, %s%s; image %d bytes in the heap", slots.running, cfg["firmware"],
             "confirmed" if slots.confirmed() else "pending verify",
             ", rolled back" if slots.rolled_back else "", len(img))
extra = []  # board tasks the station supervises beside its own
heap_log = os.getenv("STATION_HEAP_LOG_MS")
if heap_log:  # benchmarks and fuzzing: log the live heap (station_heapmon.py, host only)
    import station_heapmon

    extra.append(("heap", station_heapmon.run, (int(heap_log),)))
hold_log = os.getenv("STATION_HOLD_LOG_MS")
if hold_log:  # benchmarks: log the longest event-loop hold (station_holdmon.py, host only)
    import station_holdmon

    extra.append(("hold", station_holdmon.run, (int(hold_log),)))
app.run(station_board.make(cfg, slots), cfg, extra)
