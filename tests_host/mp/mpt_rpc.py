# rpc.py framing and dispatch over an in-memory link (the wire-level tests use real sockets and real CSMSs).
import asyncio
import json

from mptest import eq
from station.transport import ws as wsmod
from station.transport.rpc import CallError, CallTimeout, Rpc

HEAP = "192K"


class Link:
    # What rpc needs of a ws.WS: send_json(obj), recv() -> text, Closed at the end.
    def __init__(self):
        self.out = []
        self._in = []
        self._ev = asyncio.Event()
        self.closed = False

    async def send_json(self, obj):
        self.out.append(json.loads(json.dumps(obj)))  # what goes on the wire: JSON text

    def feed(self, text):
        self._in.append(text)
        self._ev.set()

    def close(self):
        self.closed = True
        self._ev.set()

    async def recv(self):
        while not self._in:
            if self.closed:
                raise wsmod.Closed("end")
            self._ev.clear()
            await self._ev.wait()
        return self._in.pop(0)


async def setup(**handlers):
    rpc = Rpc(timeout_s=1)
    for a in handlers:
        rpc.on(a, handlers[a])
    link = Link()
    task = asyncio.create_task(rpc.serve(link))
    await asyncio.sleep_ms(0)
    return rpc, link, task


async def answer(link, raw, n=1):
    before = len(link.out)
    link.feed(raw)
    for _ in range(100):
        await asyncio.sleep_ms(1)
        if len(link.out) >= before + n:
            break
    return link.out[-1]


async def test_error_codes_for_bad_frames():
    rpc, link, task = await setup(TriggerMessage=lambda p: {"status": "Accepted"})
    eq(await answer(link, "[2, \"a\", "), [4, "-1", "RpcFrameworkError", "message is not valid JSON", {}])
    eq((await answer(link, "{}"))[:3], [4, "-1", "RpcFrameworkError"])
    eq((await answer(link, "[2, 5, \"Heartbeat\", {}]"))[:3], [4, "-1", "RpcFrameworkError"])
    eq((await answer(link, "[7, \"b\", \"x\", {}]"))[:3], [4, "b", "MessageTypeNotSupported"])
    eq((await answer(link, "[2, \"c\", \"Coffee\", {}]"))[:3], [4, "c", "NotImplemented"])
    eq((await answer(link, "[2, \"d\", \"UnlockConnector\", {}]"))[:3], [4, "d", "NotSupported"])
    eq((await answer(link, "[2, \"e\", \"TriggerMessage\", {}]"))[:3], [4, "e", "OccurrenceConstraintViolation"])
    eq((await answer(link, "[2, \"f\", \"TriggerMessage\", {\"requestedMessage\": \"X\"}]"))[:3],
       [4, "f", "PropertyConstraintViolation"])
    eq((await answer(link, "[2, \"g\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\", \"x\": 1}]"))[:3],
       [4, "g", "FormatViolation"])
    eq(await answer(link, "[2, \"h\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\"}]"),
       [3, "h", {"status": "Accepted"}])
    n = len(link.out)
    link.feed("[3, \"zz\", {}]")  # stray CALLRESULT / CALLERROR: ignored, no answer
    link.feed("[4, \"zz\", \"GenericError\", \"\", {}]")
    await asyncio.sleep_ms(20)
    eq(len(link.out), n)
    link.close()
    await task


async def test_after_runs_only_once_the_reply_is_sent():
    seen = []

    async def after(sent):
        seen.append((sent, len(link.out)))  # the reply is already out when after() runs

    async def handler(p):
        return {"status": "Accepted"}, after

    rpc, link, task = await setup(TriggerMessage=handler)
    await answer(link, "[2, \"a\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\"}]")
    await asyncio.sleep_ms(5)
    eq(seen, [(True, 1)])
    link.close()
    await task


async def test_after_hears_when_the_reply_could_not_be_sent():
    seen = []

    def handler(p):
        return {"status": "Accepted"}, seen.append

    rpc, link, task = await setup(TriggerMessage=handler)

    async def dead(obj):
        raise wsmod.Closed("gone")

    link.send_json = dead  # the connection dies as the reply is written
    link.feed("[2, \"a\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\"}]")
    await asyncio.sleep_ms(20)
    eq(seen, [False])  # so the trigger gives back what it reserved
    link.close()
    await task


async def test_no_memory_for_a_call_task_does_not_use_up_the_slots():
    import station.transport.rpc as rpcmod

    rpc, link, task = await setup(TriggerMessage=lambda p: {"status": "Accepted"})
    real = rpcmod.asyncio

    class NoTask:
        def __getattr__(self, name):
            return getattr(real, name)

        def create_task(self, coro):
            coro.close()
            raise MemoryError()

    rpcmod.asyncio = NoTask()
    try:
        for i in range(6):
            link.feed("[2, \"m%d\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\"}]" % i)
            await asyncio.sleep_ms(5)
    finally:
        rpcmod.asyncio = real
    eq(await answer(link, "[2, \"ok\", \"TriggerMessage\", {\"requestedMessage\": \"Heartbeat\"}]"),
       [3, "ok", {"status": "Accepted"}])
    link.close()
    await task


async def test_handler_errors():
    def boom(p):
        raise ValueError("bug")

    def refuse(p):
        raise CallError("SecurityError", "no")

    rpc, link, task = await setup(GetVariables=boom, SetVariables=refuse)
    item = {"component": {"name": "C"}, "variable": {"name": "V"}}
    gv = json.dumps([2, "a", "GetVariables", {"getVariableData": [item]}])
    eq((await answer(link, gv))[:3], [4, "a", "InternalError"])
    item["attributeValue"] = "1"
    sv = json.dumps([2, "b", "SetVariables", {"setVariableData": [item]}])
    eq((await answer(link, sv))[:3], [4, "b", "SecurityError"])
    link.close()
    await task


async def test_call_result_error_timeout_and_crossing_calls():
    rpc, link, task = await setup(TriggerMessage=lambda p: {"status": "Rejected"})

    async def csms():
        while not link.out:
            await asyncio.sleep_ms(1)
        mid = link.out[0][1]
        # the CSMS's CALL crosses ours and is answered at once, before ours is answered
        link.feed("[2, \"x\", \"TriggerMessage\", {\"requestedMessage\": \"BootNotification\"}]")
        await asyncio.sleep_ms(10)
        eq(link.out[1], [3, "x", {"status": "Rejected"}])
        link.feed(json.dumps([3, mid, {"currentTime": "2026-01-01T00:00:00Z"}]))

    asyncio.create_task(csms())
    eq(await rpc.call("Heartbeat", {}), {"currentTime": "2026-01-01T00:00:00Z"})

    async def err():
        await asyncio.sleep_ms(5)
        link.feed(json.dumps([4, link.out[-1][1], "NotSupported", "nope", {}]))

    asyncio.create_task(err())
    try:
        await rpc.call("Heartbeat", {})
        raise AssertionError("no CallError")
    except CallError as e:
        eq(e.code, "NotSupported")

    async def quirk():  # a CALLRESULT that breaks its schema: logged, and used as far as it goes
        await asyncio.sleep_ms(5)
        link.feed(json.dumps([3, link.out[-1][1], {"currentTime": "2026-01-01T00:00:00Z", "vendorExtra": 1}]))

    asyncio.create_task(quirk())
    eq(await rpc.call("Heartbeat", {}), {"currentTime": "2026-01-01T00:00:00Z", "vendorExtra": 1})

    async def bad():  # a CALLRESULT that is no object at all is an error for the caller
        await asyncio.sleep_ms(5)
        link.feed(json.dumps([3, link.out[-1][1], [1, 2]]))

    asyncio.create_task(bad())
    try:
        await rpc.call("Heartbeat", {})
        raise AssertionError("no CallError")
    except CallError as e:
        eq(e.code, "TypeConstraintViolation")
    try:
        await rpc.call("Heartbeat", {}, timeout_s=0.05)
        raise AssertionError("no timeout")
    except CallTimeout:
        pass
    ids = [m[1] for m in link.out if m[0] == 2]
    eq(len(set(ids)), len(ids))
    assert all(len(i) <= 36 for i in ids)
    assert Rpc()._prefix != rpc._prefix  # a new boot starts a new id space
    link.close()
    await task


async def test_at_most_four_incoming_calls_at_once():
    gate = asyncio.Event()

    async def slow(p):
        await gate.wait()
        return {"getVariableResult": []}

    rpc, link, task = await setup(GetVariables=slow)
    item = {"component": {"name": "C"}, "variable": {"name": "V"}}
    for i in range(6):
        link.feed(json.dumps([2, "c%d" % i, "GetVariables", {"getVariableData": [item]}]))
    await asyncio.sleep_ms(20)
    eq([(m[1], m[2]) for m in link.out], [("c4", "GenericError"), ("c5", "GenericError")])
    gate.set()
    await asyncio.sleep_ms(20)
    eq(sorted(m[1] for m in link.out[2:]), ["c0", "c1", "c2", "c3"])
    eq(rpc._serving, 0)
    link.close()
    await task


async def test_too_deeply_nested_call_is_answered_not_crashing():
    rpc, link, task = await setup(Heartbeat=lambda p: {"currentTime": "2026-01-01T00:00:00Z"})
    deep = '[2, "deep-1", "TriggerMessage", ' + "[" * 20000 + "]" * 20000 + "]"
    out = await answer(link, deep)
    eq(out[:3], [4, "deep-1", "FormatViolation"])
    out = await answer(link, "[" * 30000)  # not even an id to answer to
    eq(out[:3], [4, "-1", "RpcFrameworkError"])
    out = await answer(link, '[2, "ok-1", "Heartbeat", {}]')  # and the link still works
    eq(out[:2], [3, "ok-1"])
    link.close()
    await task


async def test_deep_nest_is_refused_before_the_parser_builds_it():
    # json.loads on 20000 levels runs the heap out (and a conservative GC may keep the half-built lists):
    # the nest is measured first and never parsed; a bracket-heavy but flat message still is
    import station.transport.rpc as rpcmod

    rpc, link, task = await setup(Heartbeat=lambda p: {"currentTime": "2026-01-01T00:00:00Z"})
    real = rpcmod.json
    parsed = []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def loads(self, text):
            parsed.append(len(text))
            return real.loads(text)

    rpcmod.json = Counting()
    try:
        out = await answer(link, '[2, "deep-3", "TriggerMessage", ' + "[" * 20000 + "]" * 20000 + "]")
        eq(out[:3], [4, "deep-3", "FormatViolation"])
        eq(parsed, [])
        flat = json.dumps([2, "flat-1", "Heartbeat", {"customData": {"vendorId": "v", "l": [[1]] * 300}}])
        out = await answer(link, flat)
        eq(out[:2], [3, "flat-1"])
        eq(len(parsed), 1)
    finally:
        rpcmod.json = real
    link.close()
    await task


async def test_no_memory_to_parse_a_flat_message_is_our_error_not_the_csmss():
    import station.transport.rpc as rpcmod

    rpc, link, task = await setup(Heartbeat=lambda p: {"currentTime": "2026-01-01T00:00:00Z"})
    real = rpcmod.json

    class Tight:  # the heap left cannot hold the parsed message, whatever its shape
        def __getattr__(self, name):
            return getattr(real, name)

        def loads(self, text):
            raise MemoryError()

    rpcmod.json = Tight()
    try:
        flat = '[2, "big-1", "DataTransfer", {"vendorId": "x", "data": "%s"}]' % ("y" * 8000)
        out = await answer(link, flat)
        eq(out[:3], [4, "big-1", "InternalError"])  # a well-formed message: not a FormatViolation
        deep = '[2, "deep-2", "TriggerMessage", ' + "[" * 100 + "]" * 100 + "]"
        out = await answer(link, deep)
        eq(out[:3], [4, "deep-2", "FormatViolation"])
    finally:
        rpcmod.json = real
    link.close()
    await task
