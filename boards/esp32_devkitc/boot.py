# Runs before main.py on every start. Nothing to do here: the firmware is frozen, main.py starts it.
