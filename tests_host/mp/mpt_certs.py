# Keystore: CSR requests, pending state, event-loop yielding, DER encoding; MicroPython, capped heap.
# (CPython's `cryptography` checks the same output independently in tests_host/test_csr.py.)
import os
import time

import asyncio
from station.certs import der
from station.certs.keystore import CS, V2G, Keystore
from mptest import eq, raises
from station.store import Store

HEAP = "64K"
TIMEOUT = 30
_ROOT = "/tmp/mpt_certs"


def _ks():
    os.system("rm -rf " + _ROOT)  # the Unix port has os.system; tests run on the host only
    return Keystore(Store(_ROOT))


async def test_csr_is_pending_until_signed_and_its_key_survives_reboot():
    ks = _ks()
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))
    pem = await ks.make_csr(CS, "SN1", "Org")
    lines = pem.strip().split("\n")
    eq(lines[0], "-----BEGIN CERTIFICATE REQUEST-----")
    eq(lines[-1], "-----END CERTIFICATE REQUEST-----")
    assert all(0 < len(x) <= 64 for x in lines[1:-1])
    assert len(pem) <= 5500
    # F06.FR.10: a request already sent does not block the next trigger's SignCertificateRequest
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))
    ks2 = Keystore(Store(_ROOT))  # reboot: the waiting request and its key come back from flash
    eq(ks2.pending(CS)["csr"], pem)
    pem2 = await ks2.make_csr(CS, "SN1", "Org")  # a new key; the older one is kept one step back
    eq(ks2.pending(CS)["csr"], pem2)
    eq(ks2._load("cs.pend0", "csr")["csr"], pem)
    ks.cancel(CS)
    eq(ks2.pending(CS), None)


def test_resends_follow_wait_minimum_and_repeat_times():
    from station import clock

    ks = _ks()
    real = clock.mono
    now = [100]
    clock.mono = lambda: now[0]
    try:
        ks.backoff(CS, 10, 1)  # TC_A_23: RepeatTimes 1 -> resends after W and then 2W, then no more
        seen = []
        for t in range(100, 200):
            now[0] = t
            for k in ks.due():
                seen.append((t, k))
        eq(seen, [(110, CS), (130, CS)])
        ks.backoff(None, 5, 0)  # RepeatTimes 0: one resend
        ks.backoff(V2G, 5, 2)
        ks.stop(V2G)  # its certificate arrived (valid or not): no more (A02.FR.20)
        now[0] = 205
        eq(ks.due(), [None])
        now[0] = 400
        eq(list(ks.due()), [])  # () when none is due: nothing built
    finally:
        clock.mono = real


def test_identity_must_be_configured():
    ks = _ks()
    for cn, org in (("", "Org"), ("SN1", ""), (None, "Org"), ("SN1", None), ("x" * 65, "Org")):
        eq(ks.can_request(CS, cn, org), (False, "MissingIdentity"))
    raises(ValueError, asyncio.run, ks.make_csr(CS, "", "Org"))


def test_reserve_blocks_a_second_trigger_until_built():
    ks = _ks()
    ks.reserve(CS)
    eq(ks.can_request(CS, "SN1", "Org"), (False, "CsrPending"))
    ks.release(CS)  # the Accepted never reached the CSMS: nothing is pending
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))


async def test_event_loop_keeps_running_while_building():
    ks = _ks()
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.ticks_ms())
            await asyncio.sleep_ms(0)

    t = asyncio.create_task(ticker())
    await asyncio.sleep_ms(0)
    await ks.make_csr(CS, "SN1", "Org")
    t.cancel()
    # 512 bits of scalar multiplication, a yield every ks.every (8) bits: the ticker ran ~64 times.
    assert len(ticks) >= 512 // ks.every - 4, len(ticks)


def test_der_integer_and_string_encoding():
    eq(der.uint(0), b"\x02\x01\x00")
    eq(der.uint(127), b"\x02\x01\x7f")
    eq(der.uint(128), b"\x02\x02\x00\x80")
    eq(der.uint(256), b"\x02\x02\x01\x00")
    eq(der.text("SN-1 (a)")[0], 0x13)  # PrintableString
    eq(der.text("a_b")[0], 0x0C)  # '_' is not printable: UTF8String
    eq(der.text("Müller GmbH"), b"\x0c\x0c" + "Müller GmbH".encode())
    eq(len(der.tlv(0x04, bytes(300))), 304)
