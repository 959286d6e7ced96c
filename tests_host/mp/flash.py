# Flash stand-ins for MicroPython-side tests: the storage adapter (hw/__init__.py, "Storage") over the
# host's filesystem, with a flash that can fill up, and the power cut the cutting tests raise.
import os


class PowerCut(BaseException):
    # Not an Exception: no handler in the firmware may catch a power cut.
    pass


def rmtree(path):
    """Remove a directory tree (the Unix port has no shutil)."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(path)


class _Partial:
    # A file on a flash with `room` bytes left: the rest of a write fails with ENOSPC.
    def __init__(self, f, room):
        self._f = f
        self._room = room

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def write(self, data):
        self._f.write(data[: self._room])
        if len(data) > self._room:
            raise OSError(28)

    def flush(self):
        self._f.flush()


class FullFS:
    """The port's filesystem; while `full`, opening a file for writing or appending fails with ENOSPC; with `room`
    set, a write stops after that many bytes with ENOSPC. A test may replace remove() to free room."""

    def __init__(self, room=None):
        self.full = False
        self.room = room
        self.rename = os.rename
        self.remove = os.remove
        self.listdir = os.listdir
        self.mkdir = os.mkdir
        self.stat = os.stat

    def open(self, path, mode="r"):
        w = "w" in mode or "a" in mode
        if w and self.full:
            raise OSError(28)
        f = open(path, mode)
        return _Partial(f, self.room) if w and self.room is not None else f
