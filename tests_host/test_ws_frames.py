"""Frame-level behaviour of the station's WebSocket client, audited by a hand-written server."""

import asyncio
import json
import time

from peers.stationproc import Station
from peers.wsserver import AuditServer, frame

TRIGGER_HB = {"requestedMessage": "Heartbeat"}


async def started(srv, **kw):
    await srv.start()
    st = Station(srv.url, **kw).start()
    await srv.wait_message(lambda m: m[0] == 2 and m[2] == "BootNotification", timeout=10)
    return st


async def quiet(srv):
    # Let the boot traffic finish: the server's own answers must not land between a test's fragments.
    await srv.wait_message(lambda m: m[0] == 2 and m[2] == "StatusNotification")
    await asyncio.sleep(0.2)


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 60))


def test_every_client_frame_is_masked_with_a_fresh_key_and_pings_go_out():
    async def go():
        srv = AuditServer()
        st = await started(srv, dm={"OCPPCommCtrlr.WebSocketPingInterval": 1})
        try:
            for i in range(5):
                assert (await srv.call("t%d" % i, "TriggerMessage", TRIGGER_HB))[2] == {"status": "Accepted"}
            await asyncio.sleep(2.3)
            fs = srv.frames
            assert len(fs) >= 10
            assert all(f.masked and f.fin and f.rsv == 0 for f in fs), fs
            assert {f.op for f in fs} <= {1, 9, 10}
            assert 9 in {f.op for f in fs}, "no client ping within the WebSocketPingInterval"
            keys = [f.key for f in fs]
            assert len(set(keys)) == len(keys), "mask key reused"
            req = srv.requests[0].decode()
            assert "Sec-WebSocket-Protocol: ocpp2.0.1\r\n" in req and "Sec-WebSocket-Version: 13" in req
            assert not srv.violations
            st.assert_clean()
        finally:
            st.stop()
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
            await asyncio.sleep(0.3)
            pongs = [f for f in srv.frames[n:] if f.op == 10]
            assert [p.data for p in pongs] == [b"p1", b"p2"], "pong only after the whole message"
            await srv.send(frame(0, c))
            assert (await srv.reply_to("frag")) == [3, "frag", {"status": "Accepted"}]
            st.assert_clean()
        finally:
            st.stop()
            await srv.stop()

    run(go())


def test_oversized_message_refused_station_stays_up_and_4k_message_handled():
    async def go():
        srv = AuditServer()
        st = await started(srv, max_size=4096)
        try:
            await quiet(srv)
            big = json.dumps([2, "big", "TriggerMessage", {"requestedMessage": "Heartbeat",
                                                           "customData": {"vendorId": "v", "pad": "x" * 5000}}])
            await srv.send(frame(1, big[:3000], fin=False))  # fragmented: the sum counts
            await srv.send(frame(0, big[3000:]))
            ok = json.dumps([2, "ok", "TriggerMessage", {"requestedMessage": "Heartbeat",
                                                         "customData": {"vendorId": "v", "pad": "y" * 3900}}])
            assert len(ok) <= 4096
            await srv.send_text(ok)
            assert (await srv.reply_to("ok"))[2] == {"status": "Accepted"}
            assert not [m for m in srv.messages if m[1] == "big"]
            st.wait_log("message over 4096 bytes refused")
            st.assert_clean()
        finally:
            st.stop()
            await srv.stop()

    run(go())


def test_close_handshake_then_reconnect():
    async def go():
        srv = AuditServer()
        st = await started(srv)
        try:
            await srv.send(frame(8, (1001).to_bytes(2, "big") + b"bye"))
            await asyncio.wait_for(srv.closed.wait(), 3)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1001).to_bytes(2, "big")
            t0 = time.time()
            while srv.connections < 2:
                assert time.time() - t0 < 5, "no reconnect"
                await asyncio.sleep(0.05)
            st.assert_clean()
        finally:
            st.stop()
            await srv.stop()

    run(go())


def test_masked_server_frame_fails_the_connection_with_1002():
    async def go():
        srv = AuditServer()
        st = await started(srv)
        try:
            await srv.send(frame(1, json.dumps([2, "m", "TriggerMessage", TRIGGER_HB]), mask=True))
            await asyncio.wait_for(srv.closed.wait(), 3)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1002).to_bytes(2, "big")
            st.assert_clean()
        finally:
            st.stop()
            await srv.stop()

    run(go())


def _refused(accept, protocol, why):
    async def go():
        srv = AuditServer(accept=accept, protocol=protocol)
        await srv.start()
        st = Station(srv.url).start()
        try:
            t0 = time.time()
            while srv.connections < 2:  # refused, backed off, tried again
                assert time.time() - t0 < 6, st.output()
                await asyncio.sleep(0.05)
            assert srv.frames == [], "the station sent frames over a bad handshake"
            st.wait_log(why)
            st.assert_clean()
        finally:
            st.stop()
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
            await asyncio.wait_for(srv.closed.wait(), 8)
            assert srv.frames[-1].op == 8 and srv.frames[-1].data[:2] == (1001).to_bytes(2, "big")
            # pinged, heard nothing, gave up: how many 1 s pings fit in the 3 s silence limit depends on how
            # late the sleeps wake on a loaded machine (2 or 3), so count the pings right before the close
            ops = [f.op for f in srv.frames[:-1]]
            assert ops[-2:] == [9, 9], ops
            t0 = time.time()
            while srv.connections < 2:
                assert time.time() - t0 < 5, "no reconnect"
                await asyncio.sleep(0.05)
            st.wait_log("peer silent")
            st.assert_clean()
        finally:
            st.stop()
            await srv.stop()

    run(go())


def test_reconnect_back_off_doubles_up_to_repeat_times_then_stays():
    async def go():
        srv = AuditServer(accept="wrong")
        await srv.start()
        dm = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
              "OCPPCommCtrlr.RetryBackOffRepeatTimes": 1}
        st = Station(srv.url, dm=dm).start()
        try:
            t0 = time.time()
            while srv.connections < 4:
                assert time.time() - t0 < 15, st.output()
                await asyncio.sleep(0.05)
            t = srv.conn_times
            gaps = [round(b - a, 1) for a, b in zip(t, t[1:], strict=False)]
            # 1 s, doubled once (RepeatTimes = 1), then kept
            assert [round(g) for g in gaps[:3]] == [1, 2, 2], gaps
        finally:
            st.stop()
            await srv.stop()

    run(go())
