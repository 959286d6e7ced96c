"""Old name of tools/build/mpy.py, kept only while tests_host/mpharness.py still imports `build_mpy` from tools/
(its sys.path insert); delete it once mpharness imports `from tools.build import mpy`."""

from tools.build.mpy import OUT, build, micropython, mpy_cross, sizes  # noqa: F401
