# Board-independent hardware logic. It reaches the hardware only through these adapters, which
# boards/<board>/station_board.py builds (machine.UART/Pin on the ESP32, a pty and bench files on the host):
#
# UART (one per RS485 bus), used by hw.modbus.Master:
#   write(buf) -> int|None      queue a whole frame for sending (may return before it is on the wire)
#   txdone() -> bool            True once the last byte has left the shift register (RS485 turnaround)
#   readinto(buf) -> int|None   NON-blocking: copy what has arrived (0 or None: nothing yet)
#   The UART runs at the bus baud, 8N1; the master owns timing (silence, timeouts) itself.
# Driver-enable (optional, RS485 DE/RE pin): value(v) with 1 = drive the bus.
# Digital input: value() -> 0/1, already in "active = 1" sense (the board inverts active-low contacts).
#
# The board also hands the station (app.py) two adapters that are not hardware logic's:
# Storage (board.fs, optional; station.store.Store): open(path, mode), rename(a, b), remove(path),
#   listdir(path), mkdir(path), stat(path), as the port's own; a test passes one that fails or tears
#   writes to cut the power at every write point (tests_host/mp/mpt_txcut.py).
# RTC (board.rtc, board.rtc_set, optional; clock.py): rtc() -> port-epoch seconds (default time.time),
#   rtc_set(seconds) keeps the CSMS's time through a reset without power loss (ESP32: machine.RTC).
# Image slots (board.slots, optional): the firmware image's A/B slots; boards/<board>/station_slots.py.
#   running -> slot name, confirmed() -> bool, confirm() -> True if this call confirmed a pending-verify
#   image (its self-test passed: the first Accepted BootNotification), writer() -> an object with
#   write(buf), finish() (checks the image, boots it next, pending verify) and abort(), for the inactive slot.
# Reset (board.reset()): restart the program as the board's reset does (ESP32: machine.reset(); host: the
#   program ends and the simulator starts it again). Update and Reset write their reason on flash first.
#
# Nothing here imports machine; tests drive the same classes with host objects.
