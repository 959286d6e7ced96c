"""The project's CPython tools, by kind; none of this goes onto a board.

    build/   the .mpy build and the Unix port that runs it, the schema tables' generator, the type check
    bench/   benchmarks (results/*.md)
    robust/  robustness runs against the real station: WebSocket fuzzing, fault injection
    csms/    the CSMSs the station is run against: the development one (`ocpp` package), the frame audit server
    demo/    `make demo`
    sim.py   the host simulator's command line; the simulator is part of the host board, boards/host/sim/

`make setup` puts the project root on the venv's import path (a .pth file), so every script and test imports
`tools.…` and `boards.host.sim` from there, with no sys.path changes of its own. ROOT is the project root.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
