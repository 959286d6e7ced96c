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
    eq(ks.can_request(CS, "SN1", "Org"), (False, "CsrPending"))
    eq(ks.can_request(V2G, "SECC1", "Org"), (True, None))  # other slots are independent
    ks2 = Keystore(Store(_ROOT))  # reboot: the waiting request and its key come back from flash ...
    eq(ks2.pending(CS)["csr"], pem)
    # ... but no longer block a new trigger: a CSMS that never answered must not block renewal for good
    eq(ks2.can_request(CS, "SN1", "Org"), (True, None))
    ks.cancel(CS)
    eq(ks.can_request(CS, "SN1", "Org"), (True, None))
    eq(ks2.pending(CS), None)


async def test_request_that_was_never_answered_expires_with_max_wait():
    ks = _ks()
    await ks.make_csr(CS, "SN1", "Org")
    eq(ks.can_request(CS, "SN1", "Org", max_wait=3600), (False, "CsrPending"))
    eq(ks.can_request(CS, "SN1", "Org", max_wait=0), (True, None))


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
