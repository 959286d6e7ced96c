"""The host simulator's command line (README, `make demo`, the tests all start it here); the simulator itself
lives with the host board, boards/host/sim/simulator.py.

    .venv/bin/python tools/sim.py --csms ws://HOST:PORT/PATH --id STATION_ID [--evses N] [...]
"""

from boards.host.sim.simulator import main

if __name__ == "__main__":
    main()
