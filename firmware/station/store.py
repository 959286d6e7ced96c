# Files on flash (LittleFS on the board, a directory on the host), written so that a power cut at any
# instant leaves either the old or the new content, never a torn file.
# The filesystem is an adapter (see hw/__init__.py, "Storage"): by default the port's own open() and os,
# a test passes one that fails or tears writes to cut power at every write point.
import os

_TMP = ".tmp"


class _PortFS:
    # The port's filesystem, in the adapter's shape.
    open = staticmethod(open)
    rename = staticmethod(os.rename)
    remove = staticmethod(os.remove)
    listdir = staticmethod(os.listdir)
    mkdir = staticmethod(os.mkdir)
    stat = staticmethod(os.stat)


FS = _PortFS()


class Store:
    def __init__(self, root, fs=None):
        self.fs = fs = fs or FS
        self.root = root.rstrip("/") or "/"
        self._mkdirs(self.root)
        # A power cut between write and rename leaves a .tmp behind: the old file is still whole.
        for name in fs.listdir(self.root):
            if name.endswith(_TMP):
                fs.remove(self.path(name))

    def sub(self, name):
        """A Store of a subdirectory, on the same filesystem."""
        return Store(self.path(name), self.fs)

    def _exists(self, path):
        try:
            self.fs.stat(path)
            return True
        except OSError:
            return False

    def _mkdirs(self, path):
        acc = ""
        for part in path.split("/"):
            acc = acc + "/" + part if acc or path.startswith("/") else part
            if part and not self._exists(acc):
                self.fs.mkdir(acc)

    def path(self, name):
        return self.root + "/" + name

    def names(self):
        return self.fs.listdir(self.root)

    def read(self, name):
        """The file's bytes, or None when it does not exist."""
        try:
            with self.fs.open(self.path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        """Replace the file atomically: write a temp file, sync, rename it over the old one. data: bytes or
        str, or a tuple of them written one after the other (a big text is not copied to prepend a line).
        OSError (flash full: ENOSPC) leaves the old file and no temp file behind."""
        tmp = self.path(name) + _TMP
        try:
            with self.fs.open(tmp, "wb") as f:
                for part in data if isinstance(data, tuple) else (data,):  # parts: no joined copy
                    f.write(part)
                try:
                    f.flush()
                    os.sync()  # not on every port; LittleFS commits on close anyway
                except (AttributeError, OSError):
                    pass
            self.fs.rename(tmp, self.path(name))
        except OSError:
            try:
                self.fs.remove(tmp)
            except OSError:
                pass
            raise

    def remove(self, name):
        try:
            self.fs.remove(self.path(name))
        except OSError:
            pass
