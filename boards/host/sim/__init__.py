"""The host simulator: the host board's other half, on CPython (never on a board; tools/build/mpy.py does
not compile this folder and tools/build/typecheck.py does not check it).

    simulator.py  one station: the firmware .mpy under the Unix port with this board, meters, control port
                  (its command line is tools/sim.py)
    simctl.py     drive a simulator from CPython: start it, send control-port commands, read its log
    meters.py     energy meters on a simulated RS485 bus (pymodbus behind a pseudo-terminal)
    pins.py       the pin file the host board reads its contacts from
"""
