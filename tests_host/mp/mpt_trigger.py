# The decision table of spec digest §2, row by row, against the real station (hoststation.py: app.Station
# on the host board, its real outbox, connection object, transactions and certificate store), plus what
# "Accepted means sent" (F06.FR.10) demands when the queue is full or the answer never reaches the CSMS.
import hoststation as hs
from hoststation import ask, queued
from mptest import eq

HEAP = "256K"  # the whole station: bytecode (.mpy) sits in the heap under the Unix port
TIMEOUT = 60


def _station(**kw):
    st = hs.make(**kw)
    hs.reading(st, 1)
    hs.reading(st, 2, 5000, 7400.0)
    hs.pins(2, plug=1)
    hs.settle_inputs(st)
    return st


async def test_heartbeat_always_evse_ignored():
    st = _station()
    eq(await ask(st, "Heartbeat", {"id": 9}), ("Accepted", None))
    eq(queued(st), [("Heartbeat", {}, True)])


async def test_boot_notification_rule():
    st = _station()
    st.outbox.set_state("pending")
    eq(await ask(st, "BootNotification"), ("Accepted", None))
    eq([(p["reason"], t) for _, p, t in queued(st, "BootNotification")], [("Triggered", True)])
    hs.register(st)
    eq(await ask(st, "BootNotification"), ("Rejected", "AlreadyAccepted"))  # F06.FR.17, TC_F_26


async def test_triggered_boot_while_one_is_due_sends_no_second_one_after_accepted():
    st = _station()
    st.reg.linked = True  # connected: an unanswered boot would be retried
    hs.register(st, "Pending", interval=60)  # the next BootNotification is due in 60 s
    assert st.reg._next_boot is not None
    st.reg.send_boot()  # the retry came due and queued its BootNotification ...
    eq(await ask(st, "BootNotification"), ("Accepted", None))  # ... and a trigger comes too
    eq(len(queued(st, "BootNotification")), 1)  # one message, the newer reason
    eq(queued(st, "BootNotification")[0][1]["reason"], "Triggered")
    it = st.outbox.items[0]
    st.outbox.items.remove(it)
    it.on_result({"status": "Accepted", "interval": 300, "currentTime": "2026-12-01T10:00:00Z"})
    eq(st.reg.state, "accepted")
    eq(st.reg._next_boot, None)  # nothing re-armed: no second BootNotification follows


async def test_status_notification_rows():
    st = _station()
    eq(await ask(st, "StatusNotification"), ("Rejected", "MissingEvse"))
    eq(await ask(st, "StatusNotification", {"id": 1}), ("Rejected", "MissingConnectorId"))
    eq(await ask(st, "StatusNotification", {"id": 7, "connectorId": 1}), ("Rejected", "UnknownEvse"))
    eq(await ask(st, "StatusNotification", {"id": 1, "connectorId": 3}), ("Rejected", "UnknownConnectorId"))
    eq(queued(st), [])
    eq(await ask(st, "StatusNotification", {"id": 2, "connectorId": 1}), ("Accepted", None))
    a, p, trig = queued(st)[0]
    eq((a, p["connectorStatus"], p["evseId"], p["connectorId"], trig), ("StatusNotification", "Occupied", 2, 1, True))
    st.outbox.items = []
    eq(await ask(st, "StatusNotification", {"id": 2, "connectorId": 1}), ("Accepted", None))
    eq(len(queued(st)), 1)  # unchanged status is still sent when triggered


async def test_meter_values_rows():
    st = _station()
    st.dm.put("AlignedDataCtrlr", "Measurands", "Current.Import")
    eq(await ask(st, "MeterValues"), ("Accepted", None))
    eq([p["evseId"] for _, p, _ in queued(st)], [1, 2])
    sv = queued(st)[0][1]["meterValue"][0]["sampledValue"]
    eq([(s["measurand"], s["context"], s["phase"]) for s in sv],
       [("Current.Import", "Trigger", "L1"), ("Current.Import", "Trigger", "L2"), ("Current.Import", "Trigger", "L3")])
    st.outbox.items = []
    eq(await ask(st, "MeterValues", {"id": 2}), ("Accepted", None))
    eq([p["evseId"] for _, p, _ in queued(st)], [2])
    eq(await ask(st, "MeterValues", {"id": 5}), ("Rejected", "UnknownEvse"))
    st.meters._down[2] = True  # the poller found meter 2 silent
    st.outbox.items = []
    eq(await ask(st, "MeterValues"), ("Rejected", "NoFreshMeterValue"))
    eq(await ask(st, "MeterValues", {"id": 1}), ("Accepted", None))
    eq(len(queued(st)), 1)


async def test_transaction_event_rows():
    st = _station()
    eq(await ask(st, "TransactionEvent"), ("Rejected", "TxNotFound"))
    st.tx.on_connector(2, 1, True, True)
    eq(await ask(st, "TransactionEvent", {"id": 1}), ("Rejected", "TxNotFound"))
    eq(await ask(st, "TransactionEvent", {"id": 4}), ("Rejected", "UnknownEvse"))
    eq(await ask(st, "TransactionEvent"), ("Accepted", None))
    q = st.txq
    q.ack(q.peek()[0])  # the Started event
    p = q.peek()[1]
    eq((p["eventType"], p["triggerReason"], p["seqNo"], p["evse"]["id"]), ("Updated", "Trigger", 1, 2))


async def test_firmware_and_log_status():
    st = _station()
    eq(await ask(st, "FirmwareStatusNotification", {"id": 3}), ("Accepted", None))
    eq(queued(st)[-1][1], {"status": "Idle"})
    st.fw.sent("DownloadFailed", 12)
    await ask(st, "FirmwareStatusNotification")
    eq(queued(st)[-1][1], {"status": "DownloadFailed", "requestId": 12})
    st.fw.sent("Installed", 12)
    await ask(st, "FirmwareStatusNotification")
    eq(queued(st)[-1][1], {"status": "Idle"})
    await ask(st, "LogStatusNotification")
    eq(queued(st)[-1][1], {"status": "Idle"})
    st.logs.uploading = 44
    await ask(st, "LogStatusNotification")
    eq(queued(st)[-1][1], {"status": "Uploading", "requestId": 44})


def _csr_answer(st, status):
    it = [i for i in st.outbox.items if i.action == "SignCertificate"][0]
    st.outbox.items.remove(it)
    it.on_result({"status": status} if status else None)


async def test_certificate_rows():
    st = _station()
    eq(await ask(st, "SignCombinedCertificate"), ("NotImplemented", None))
    eq(await ask(st, "SignV2GCertificate"), ("Rejected", "V2GDisabled"))
    eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))
    a, p, trig = queued(st)[-1]
    eq((a, p["certificateType"], trig), ("SignCertificate", "ChargingStationCertificate", True))
    assert p["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    # F06.FR.10: a trigger while a CSR waits still gets its SignCertificateRequest: a new key, and the
    # queued message carries the newer CSR instead of going twice
    eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))
    eq([q[1]["csr"] == p["csr"] for q in queued(st, "SignCertificate")], [False])
    _csr_answer(st, "Rejected")  # the CSMS will not sign
    eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))
    st.dm.put("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", True)
    eq(await ask(st, "SignV2GCertificate"), ("Rejected", "MissingIdentity"))  # no SeccId yet
    st.dm.put("ISO15118Ctrlr", "SeccId", "SECC-7")
    eq(await ask(st, "SignV2GCertificate"), ("Accepted", None))
    eq(await ask(st, "SignCombinedCertificate"), ("Accepted", None))
    assert "certificateType" not in queued(st)[-1][1]
    st2 = _station(dm={"SecurityCtrlr.OrganizationName": ""})
    eq(await ask(st2, "SignChargingStationCertificate"), ("Rejected", "MissingIdentity"))


async def test_answer_that_never_reached_the_csms_leaves_no_csr_pending():
    st = _station()
    eq(await ask(st, "SignChargingStationCertificate", sent=False), ("Accepted", None))
    eq(queued(st), [])
    eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))  # not CsrPending until reboot
    eq(len(queued(st, "SignCertificate")), 1)


async def test_csms_that_accepts_and_never_signs_gets_the_same_csr_again_w_then_2w():
    from station import clock

    st = _station(dm={"SecurityCtrlr.CertSigningWaitMinimum": 10, "SecurityCtrlr.CertSigningRepeatTimes": 1})
    real = clock.mono
    now = [clock.mono()]
    t0 = now[0]
    clock.mono = lambda: now[0]
    try:
        eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))
        first = queued(st, "SignCertificate")[0][1]
        _csr_answer(st, "Accepted")  # ... and then no CertificateSigned comes (TC_A_23)
        sent = []
        for dt in range(0, 200):
            now[0] = t0 + dt
            st.tick()
            for q in queued(st, "SignCertificate"):
                eq((q[1], q[2]), (first, False))  # the same CSR, same key; not a triggered message
                sent.append(dt)
                _csr_answer(st, "Accepted")
        eq(sent, [10, 30])  # after W, then after 2W more; RepeatTimes 1 = one doubling, then stop
        eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))  # a trigger starts again
    finally:
        clock.mono = real


async def test_csr_that_cannot_be_built_gives_its_places_back():
    from station.certs import p256

    st = _station()
    real = p256.new_key

    def no_memory():
        raise MemoryError()

    p256.new_key = no_memory
    try:
        eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))
    finally:
        p256.new_key = real
    eq(queued(st), [])
    eq(st.outbox._held, 0)  # the reserved outbox place is free again
    eq(await ask(st, "SignChargingStationCertificate"), ("Accepted", None))  # and the CSR slot too
    eq(len(queued(st, "SignCertificate")), 1)


async def test_full_queue_is_rejected_before_answering_never_dropped_after():
    st = _station()
    for i in range(31):
        assert st.outbox.put("StatusNotification", {"n": i})
    eq(await ask(st, "MeterValues"), ("Rejected", "QueueFull"))  # two messages, one place left
    from station import trigger

    resp, after = trigger.handle(st.view, {"requestedMessage": "Heartbeat"})
    eq(resp, {"status": "Accepted"})
    assert not st.outbox.put("StatusNotification", {"n": 31})  # spontaneous traffic meanwhile: no room
    await after(True)
    eq(queued(st)[-1], ("Heartbeat", {}, True))  # what was Accepted is queued
    eq(await ask(st, "Heartbeat"), ("Rejected", "QueueFull"))


async def test_answer_not_sent_gives_the_reserved_place_back():
    st = _station()
    eq(await ask(st, "MeterValues", sent=False), ("Accepted", None))
    eq(queued(st), [])
    eq(st.outbox._held, 0)


async def test_triggered_meter_values_never_merge_with_clock_aligned_ones():
    st = _station(dm={"AlignedDataCtrlr.Interval": 60})
    hs.register(st, "Pending")
    from station import clock

    st.aligned.due = clock.now()  # a grid point is due: a clock-aligned reading is queued
    st.aligned.tick()
    eq([(p["meterValue"][0]["sampledValue"][0]["context"], t) for _, p, t in queued(st, "MeterValues")],
       [("Sample.Clock", False), ("Sample.Clock", False)])
    eq(await ask(st, "MeterValues", {"id": 1}), ("Accepted", None))
    got = [(p["evseId"], p["meterValue"][0]["sampledValue"][0]["context"], t) for _, p, t in queued(st, "MeterValues")]
    eq(got, [(1, "Sample.Clock", False), (2, "Sample.Clock", False), (1, "Trigger", True)])
    # while Pending only the triggered one may go (B02.FR.02)
    eq([i.payload["evseId"] for i in st.outbox.items if st.outbox._allowed(i)], [1])


async def test_publish_firmware_and_unknown_are_not_implemented():
    st = _station()
    eq(await ask(st, "PublishFirmwareStatusNotification"), ("NotImplemented", None))
    eq(await ask(st, "SomethingNew"), ("NotImplemented", None))
    eq(queued(st), [])
