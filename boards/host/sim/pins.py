"""CPython side of the host board's inputs: the simulator sets a connector's contacts in a pin file.

The firmware's host board (boards/host/station_board.py) reads <state dir>/pins.json when its inputs poll:
    {"1": {"plug": 1, "charging": 0, "fault": 0}, ...}   EVSE id -> input -> 0/1 (1 = active)
Every change replaces the file atomically (write a temp file, rename), so the firmware never sees a
half-written file. Inputs: "plug" (plug detect), "charging" (contactor feedback / pilot C), "fault".
"""

import json
import os

NAMES = ("plug", "charging", "fault")


def pins_path(state_dir):
    return os.path.join(state_dir, "pins.json")


def get_inputs(state_dir, path=None):
    try:
        with open(path or pins_path(state_dir)) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def set_inputs(state_dir, evse, path=None, **values):
    """Set several inputs of one EVSE at once, e.g. set_inputs(d, 1, plug=1, charging=1)."""
    path = path or pins_path(state_dir)
    data = get_inputs(state_dir, path)
    e = data.setdefault(str(evse), {n: 0 for n in NAMES})
    for name, v in values.items():
        if name not in NAMES:
            raise ValueError("unknown input %r (one of %s)" % (name, ", ".join(NAMES)))
        e[name] = 1 if v else 0
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def set_input(state_dir, evse, name, value, path=None):
    set_inputs(state_dir, evse, path=path, **{name: value})
