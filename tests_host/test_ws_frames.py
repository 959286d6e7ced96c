"""Frame-level behaviour of the station's WebSocket client, audited by a hand-written server
(tools/csms/audit.py). The station is the real one: tools/sim.py, the firmware under the Unix port."""

import asyncio
import json
import re

from boards.host.sim.simctl import Station
from tools.csms.audit import AuditServer, frame

TRIGGER_HB = {"requestedMessage": "Heartbeat"}
# reconnect after 1 s, doubled once (the defaults, 10 s + up to 10 s at random, would outlast the tests);
# no clock-aligned MeterValues between a test's frames
FAST = {
    "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
    "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
    "OCPPCommCtrlr.RetryBackOffRepeatTimes": 1,
    "AlignedDataCtrlr.Interval": 0,
}
MAX_MESSAGE = 16384  # the station's message size limit (app.py's default)
WAIT = 20  # seconds to wait for something that must happen (a generous bound, not a measurement)
SLACK = 0.15  # a lower bound measured on the server side may look this much shorter than the station's timer


async def start_station(url, dm=None, heap="256K"):
    # simctl.Station blocks while sim.py starts: off the event loop, so the server can accept meanwhile
    return await asyncio.to_thread(Station, url, "CS1", dm=dict(FAST, **(dm or {})), heap=heap)


async def stop_station(st):
    await asyncio.to_thread(st.stop)


async def wait_log(st, text, since=0):
    return await asyncio.to_thread(st.wait_log, text, WAIT, since)


async def until(pred, what, st):
    for _ in range(int(WAIT / 0.05)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("%s within %d s\n%s" % (what, WAIT, "\n".join(st.lines[-30:])))


async def started(srv, **kw):
    await srv.start()
    st = await start_station(srv.url, **kw)
    await srv.wait_message(lambda m: m[0] == 2 and m[2] == "BootNotification", timeout=WAIT)
    return st


async def quiet(srv):
    # Let the boot traffic finish: the server's own answers must not land between a test's fragments.
    await srv.wait_message(lambda m: m[0] == 2 and m[2] == "StatusNotification", timeout=WAIT)
    await asyncio.sleep(0.2)


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 90))


def test_every_client_frame_is_masked_with_a_fresh_key_and_pings_go_out():
    async def go():
        srv = AuditServer()
        st = await started(srv, dm={"OCPPCommCtrlr.WebSocketPingInterval": 1})
        try:
            for i in range(5):
                assert (await srv.call("t%d" % i, "TriggerMessage", TRIGGER_HB, timeout=WAIT))[2] == {
                    "status": "Accepted"}
            await srv.wait_message(lambda m: m[0] == 2 and m[2] == "Heartbeat", timeout=WAIT)
            await until(lambda: 9 in {f.op for f in srv.frames}, "a client ping (WebSocketPingInterval 1 s)", st)
            fs = list(srv.frames)
            # BootNotification, StatusNotification, 5 answers, the triggered Heartbeat(s), a ping
            assert len(fs) >= 9, fs
            assert all(f.masked and f.fin and f.rsv == 0 for f in fs), fs
            assert {f.op for f in fs} <= {1, 9, 10}
            keys = [f.key for f in fs]
            assert len(set(keys)) == len(keys), "mask key reused"
            req = srv.requests[0].decode()
            assert "Sec-WebSocket-Protocol: ocpp2.0.1\r\n" in req and "Sec-WebSocket-Version: 13" in req
            assert not srv.violations
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_fragmented_message_with_pings_inside_gets_pongs_and_one_answer():
    async def go():
        srv = AuditServer()
        st = await started(srv)
        try:
            await quiet(srv)
            text = json.dumps([2, "frag", "TriggerMessage", TRIGGER_HB])
            a, b, c = text[:10], text[10:20], text[20:]
            n = len(srv.frames)
            await srv.send(frame(1, a, fin=False))
            await srv.send(frame(9, b"p1"))
            await srv.send(frame(0, b, fin=False))
            await srv.send(frame(9, b"p2"))
            await until(lambda: len([f for f in srv.frames[n:] if f.op == 10]) >= 2, "two pongs", st)
            # answered while the message is still incomplete: the pongs do not wait for its end
            assert [f.data for f in srv.frames[n:] if f.op == 10] == [b"p1", b"p2"]
            assert not [m for m in srv.messages if m[1] == "frag"]
            await srv.send(frame(0, c))
            assert (await srv.reply_to("frag", timeout=WAIT)) == [3, "frag", {"status": "Accepted"}]
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_oversized_message_refused_station_stays_up_and_one_at_the_limit_handled():
    async def go():
        srv = AuditServer()
        # 512K: the size limit is under test here, not heap pressure (under the Unix port the bytecode takes
        # ~145 KB of the default 256K, and a message the heap cannot hold is skipped too, answered InternalError)
        st = await started(srv, heap="512K")
        try:
            await quiet(srv)
            n = st.mark()

            def trig(mid, pad):
                return json.dumps([2, mid, "TriggerMessage", {"requestedMessage": "Heartbeat",
                                                              "customData": {"vendorId": "v", "pad": pad}}])

            big = trig("big", "x" * (MAX_MESSAGE + 1 - len(trig("big", ""))))  # one byte over the limit
            assert len(big) == MAX_MESSAGE + 1
            await srv.send(frame(1, big[:9000], fin=False))  # fragmented: the sum counts
            await srv.send(frame(0, big[9000:]))
            ok = trig("ok", "y" * (MAX_MESSAGE - len(trig("ok", ""))))
            assert len(ok) == MAX_MESSAGE
            await srv.send_text(ok)
            assert (await srv.reply_to("ok", timeout=WAIT))[2] == {"status": "Accepted"}
            assert not [m for m in srv.messages if m[1] == "big"]
            await wait_log(st, "message over %d bytes refused" % MAX_MESSAGE, since=n)
            assert srv.connections == 1  # the link lives on
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_close_handshake_then_reconnect():
    async def go():
        srv = AuditServer()
        st = await started(srv)
        try:
            await quiet(srv)  # no boot traffic of the station's crossing the frame under test
            await srv.send(frame(8, (1001).to_bytes(2, "big") + b"bye"))
            await asyncio.wait_for(srv.closed.wait(), WAIT)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1001).to_bytes(2, "big")
            await until(lambda: srv.connections >= 2, "a reconnect", st)
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_masked_server_frame_fails_the_connection_with_1002():
    async def go():
        srv = AuditServer()
        st = await started(srv)
        try:
            await quiet(srv)  # no boot traffic of the station's crossing the frame under test
            await srv.send(frame(1, json.dumps([2, "m", "TriggerMessage", TRIGGER_HB]), mask=True))
            await asyncio.wait_for(srv.closed.wait(), WAIT)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1002).to_bytes(2, "big")
            assert not [m for m in srv.messages if m[1] == "m"]  # not answered
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def _refused(accept, protocol, why):
    async def go():
        srv = AuditServer(accept=accept, protocol=protocol)
        await srv.start()
        st = await start_station(srv.url)
        try:
            await until(lambda: srv.connections >= 2, "refused, backed off, tried again", st)
            assert srv.frames == [], "the station sent frames over a bad handshake"
            await wait_log(st, why)
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_wrong_accept_key_is_refused():
    _refused("wrong", "ocpp2.0.1", "wrong Sec-WebSocket-Accept")


def test_missing_subprotocol_is_refused():
    _refused("right", None, "did not select subprotocol ocpp2.0.1")


def test_silent_peer_is_closed_with_1001_and_the_station_reconnects():
    async def go():
        srv = AuditServer(pong=False)
        st = await started(srv, dm={"OCPPCommCtrlr.WebSocketPingInterval": 1})
        try:
            await asyncio.wait_for(srv.closed.wait(), WAIT)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1001).to_bytes(2, "big")
            # pinged, heard nothing, gave up: how many 1 s pings fit in the 3 s silence limit depends on how
            # late the sleeps wake on a loaded machine (2 or 3), so count the pings right before the close
            ops = [f.op for f in srv.frames[:-1]]
            assert ops[-2:] == [9, 9], ops
            await until(lambda: srv.connections >= 2, "a reconnect", st)
            await wait_log(st, "peer silent")
            st.assert_clean()
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())


def test_reconnect_back_off_doubles_up_to_repeat_times_then_stays():
    async def go():
        srv = AuditServer(accept="wrong")
        await srv.start()
        st = await start_station(srv.url)  # WaitMinimum 1 s, RandomRange 0, RepeatTimes 1
        try:
            await until(lambda: srv.connections >= 4, "four attempts", st)
            waits = [int(w) for w in re.findall(r"retry in (\d+) s", st.log())]
            # 1 s, doubled once (RepeatTimes = 1), then kept
            assert waits[:3] == [1, 2, 2], waits
            t = srv.conn_times
            gaps = [b - a for a, b in zip(t, t[1:], strict=False)]
            # and it really waited that long before each next attempt
            assert all(g >= w - SLACK for g, w in zip(gaps[:3], waits, strict=False)), (gaps, waits)
        finally:
            await stop_station(st)
            await srv.stop()

    run(go())
