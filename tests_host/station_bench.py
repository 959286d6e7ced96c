"""End-to-end bench for CPython tests: the CSMS of tools/csms/dev.py (the `ocpp` package) and the station
started through tools/sim.py (the product's simulator), driven over its control port."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tools.csms.dev import CSMS, CallError  # noqa: E402,F401 - re-exported for the tests
from simctl import (  # noqa: E402,F401
    Station, between, marker, none_before_marker, payloads, sent_after, set_vars, trigger)
