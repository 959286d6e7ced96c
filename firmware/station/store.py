# Files on flash (LittleFS on the board, a directory on the host), written so that a power cut at any
# instant leaves either the old or the new content, never a torn file.
import os

_TMP = ".tmp"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Store:
    def __init__(self, root):
        self.root = root.rstrip("/") or "/"
        self._mkdirs(self.root)
        # A power cut between write and rename leaves a .tmp behind: the old file is still whole.
        for name in os.listdir(self.root):
            if name.endswith(_TMP):
                os.remove(self.path(name))

    def _mkdirs(self, path):
        acc = ""
        for part in path.split("/"):
            acc = acc + "/" + part if acc or path.startswith("/") else part
            if part and not _exists(acc):
                os.mkdir(acc)

    def path(self, name):
        return self.root + "/" + name

    def read(self, name):
        """The file's bytes, or None when it does not exist."""
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, name, data):
        """Replace the file atomically: write a temp file, sync, rename it over the old one."""
        tmp = self.path(name) + _TMP
        with open(tmp, "wb") as f:
            f.write(data)
            try:
                f.flush()
                os.sync()  # not on every port; LittleFS commits on close anyway
            except (AttributeError, OSError):
                pass
        os.rename(tmp, self.path(name))

    def append(self, name, data):
        """Append one record (a journal line). A torn last line is the reader's to skip."""
        with open(self.path(name), "ab") as f:
            f.write(data)

    def remove(self, name):
        try:
            os.remove(self.path(name))
        except OSError:
            pass

    def exists(self, name):
        return _exists(self.path(name))
