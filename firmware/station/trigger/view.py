# What a producer may read, and the one way its messages leave: a narrow view of the station, built once
# by app.py from the station's parts. Producers never see the hardware, the connection or the app.
#
#   v.dm          device model (variables)            v.tx        transactions (running(), trigger())
#   v.fw, v.logs  firmware / log transfer state        v.serial    the station's serial number
#   v.outbox      reserve / release / put (triggered)  v.keys      certificate store (loaded on first use)
#   v.evse_ids()  v.status(evse, connector)  v.notification(evse, connector)  v.sample(evse, meas, ctx)
#   v.boot_accepted()                                  v.send_boot(reason, reserved)
#   v.heartbeat_result(res)                            a Heartbeat answer: the CSMS's time


class View:
    def __init__(self, dm, tx, connectors, sample, fw, logs, outbox, reg, serial, keys):
        # sample(evse, measurands, context) -> sampledValue list or None; keys() -> the Keystore
        self.dm = dm
        self.tx = tx
        self.fw = fw
        self.logs = logs
        self.outbox = outbox
        self.serial = serial
        self._c = connectors
        self._reg = reg
        self._keys = keys
        self.sample = sample

    @property
    def keys(self):
        return self._keys()

    def evse_ids(self):
        return self._c.evse_ids()

    def status(self, e, c):
        return self._c.status(e, c)

    def notification(self, e, c):
        return self._c.notification(e, c)

    def boot_accepted(self):
        return self._reg.boot_accepted

    def heartbeat_result(self, res):
        self._reg.heartbeat_result(res)

    def send_boot(self, reason, reserved=False):
        self._reg.send_boot(reason, reserved)
