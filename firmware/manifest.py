# The station's core for a board's freeze manifest: the package firmware/station/ without its optional
# packages, which have their own manifest next to them (as micropython-lib's aioble splits its parts):
#   include("<path>/firmware/manifest.py")                  # the core, always
#   include("<path>/firmware/station/certs/manifest.py")    # certificates (A02/A03): optional
# A board that leaves an optional package out answers what needs it NotImplemented.
import os

_OPTIONAL = ("station/certs",)  # each with its own manifest.py
_core = []
for _dir, _subs, _files in os.walk("station"):
    _subs[:] = sorted(s for s in _subs if os.path.join(_dir, s) not in _OPTIONAL and s != "__pycache__")
    _core += [os.path.relpath(os.path.join(_dir, f), "station") for f in sorted(_files)
              if f.endswith(".py") and f != "manifest.py"]
package("station", files=_core)  # noqa: F821 - manifest functions are provided by the build
