# The one OCPP-J RPC layer (Part 4): CALL [2,id,action,payload], CALLRESULT [3,id,payload],
# CALLERROR [4,id,code,description,details] over a ws.WS.
#
#   rpc = Rpc(dm)                       # dm.get("OCPPCommCtrlr", "MessageTimeout") bounds our CALLs
#   rpc.on("GetVariables", handler)     # one handler per incoming action
#   await rpc.serve(ws)                 # read loop; returns when the connection ends
#   res = await rpc.call("Heartbeat", {})   # CallError / CallTimeout / NotConnected on failure
#
# Handlers get the payload, already validated against the official schema of the action, and return the
# response payload (sync or async). To run something strictly AFTER the CALLRESULT is on the wire
# (TriggerMessage: "response first, then the triggered CALL") a handler returns a tuple (payload, after):
# after(True) is called once the reply frame has been written and drained, after(False) when it could not
# be sent (the CSMS never saw the answer: undo what answering reserved); if it returns a coroutine, that is
# awaited too. A handler raises CallError(code, description) to answer with a specific CALLERROR; any other
# exception becomes InternalError (and is logged as a bug).
# Incoming CALLs are validated strictly. A CALLRESULT to our CALL that breaks its schema (an unknown extra
# property, a value out of range) is logged and its payload still returned: the caller uses what it can
# (status, interval, time), so a CSMS quirk does not become an outage. Only a result that is no object
# at all is a CallError.
#
# Incoming CALLs are answered at once in their own task, also while our own CALL waits: replies never queue
# behind our CALL (and bypass the outbox). At most one CALL of ours is in flight (a lock); its id is a
# per-boot random prefix plus a counter, so ids stay unique across reconnects and reboots (<= 36 chars).
# rpc.guard(action, payload) -> error code or None runs before validation (the registration gate sets it:
# SecurityError while Rejected). rpc.on_sent() is called after every frame we send (heartbeat timer).
# Validation error codes: see validate.py. Never the 1.6 name FormationViolation.
import asyncio
import gc
import json
import os

from station import log
from station.transport import validate
from station.transport.wsframe import Closed, Dropped

_TAG = "rpc"
_MAX_IN = 4  # incoming CALLs handled at once; Part 4 allows the CSMS one, more only costs RAM
_DEEP = 64  # nesting beyond any OCPP 2.0.1 message (the schemas go about 8 deep)
_BRACKETS = 256  # more [ and { than this in one message: measure its depth before parsing it
_CALL = 2
_RESULT = 3
_ERROR = 4


def _depth(text):
    """Deepest nesting of [ and { outside strings (a Python loop: only run on bracket-heavy messages)."""
    d = hi = 0
    q = esc = False
    for c in text:
        if q:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                q = False
        elif c == '"':
            q = True
        elif c in "[{":
            d += 1
            if d > hi:
                hi = d
        elif c in "]}":
            d -= 1
    return hi


def _peek_id(text):
    """The id of '[2, "<id>", ...' without parsing the rest; "-1" when unreadable, None when the message
    reads as another type (a CALLERROR answers only a CALL)."""
    i = text.find('"')
    j = text.find('"', i + 1)
    head = text[:i].replace(" ", "")
    if i > 0 and 0 < j - i - 1 <= 36 and head[:1] == "[" and head[-1:] == "," and head[1:-1].isdigit():
        return text[i + 1 : j] if head[1:-1] == "2" else None
    return "-1"


class CallError(Exception):
    def __init__(self, code, description="", details=None):
        super().__init__(code, description)
        self.code = code
        self.description = description
        self.details = details or {}


class CallTimeout(Exception):
    pass


class NotConnected(Exception):
    pass


class Rpc:
    def __init__(self, dm=None, timeout_s=30):
        self._dm = dm
        self._timeout_s = timeout_s
        self.ws = None
        self._handlers = {}
        self._lock = asyncio.Lock()
        self._pending = None  # [id, action, Event, result, error] of our CALL in flight
        self._prefix = "".join("%02x" % b for b in os.urandom(4))
        self._n = 0
        self.guard = None
        self.on_sent = None
        self._serving = 0

    def on(self, action, handler):
        self._handlers[action] = handler

    def timeout_s(self):
        if self._dm is not None:
            try:
                return self._dm.get("OCPPCommCtrlr", "MessageTimeout")
            except KeyError:  # a device model without the variable: keep the default
                pass
        return self._timeout_s

    async def _send(self, msg):
        ws = self.ws
        if ws is None:
            raise NotConnected()
        try:
            await ws.send_json(msg)
        except Closed:
            raise NotConnected() from None
        if self.on_sent:
            self.on_sent()

    async def call(self, action, payload, timeout_s=None):
        """Send a CALL and return the CALLRESULT payload (validated against the action's response schema)."""
        async with self._lock:
            if self.ws is None:
                raise NotConnected()
            self._n += 1
            mid = "%s-%d" % (self._prefix, self._n)
            p = [mid, action, asyncio.Event(), None, None]
            self._pending = p
            t = timeout_s if timeout_s is not None else self.timeout_s()
            try:
                log.info(_TAG, "-> CALL %s %s", action, mid)
                await self._send([_CALL, mid, action, payload])
                try:
                    await asyncio.wait_for_ms(p[2].wait(), int(t * 1000))
                except asyncio.TimeoutError:
                    log.warn(_TAG, "%s %s: no answer within %d s", action, mid, t)
                    raise CallTimeout(action) from None
            finally:
                self._pending = None
            if p[4] is not None:
                raise p[4]
            return p[3]

    async def serve(self, ws):
        """Read and dispatch messages from ws until it closes."""
        self.ws = ws
        try:
            while True:
                try:
                    text = await ws.recv()
                except Closed as e:
                    log.info(_TAG, "connection ended: %s", e)
                    return
                except Dropped as e:  # no room for it in the heap: answered by the id on its first bytes
                    await self._unparsed(e.head, False, e.size)
                    continue
                try:
                    await self.dispatch(text)
                except Exception as e:  # a bug with one message must not end the connection
                    log.exc(_TAG, e, "dispatch")
        finally:
            self.ws = None
            p = self._pending
            if p is not None and p[3] is None and p[4] is None:
                p[4] = NotConnected()
                p[2].set()

    async def dispatch(self, text):
        # A deep nest is refused before json builds it: thousands of one-item lists would run the heap
        # out (and a half-built structure can stay pinned by a stale pointer the conservative GC still
        # sees: the fuzzer saw 27 KB kept for good). Counting brackets is C speed; only a message with
        # many is walked (a big SetVariables may have some hundreds: walked once, then parsed).
        if text.count("[") + text.count("{") > _BRACKETS and _depth(text) > _DEEP:
            await self._unparsed(text, True)
            return
        try:
            msg = json.loads(text)
        except ValueError:
            log.warn(_TAG, "<- not JSON (%d bytes)", len(text))
            await self._error("-1", "RpcFrameworkError", "message is not valid JSON")
            return
        except MemoryError:
            # Not a bug: a big, well-formed message finds too little heap left (ours: InternalError), or
            # a nest below the bracket bound still grows the parser past it (bad input: FormatViolation).
            gc.collect()
            await self._unparsed(text, _depth(text) > _DEEP)
            return
        if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str) or not msg[1] or len(msg[1]) > 36:
            mid = msg[1] if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str) and msg[1] else "-1"
            log.warn(_TAG, "<- not an RPC message")
            await self._error(mid[:36], "RpcFrameworkError", "not an OCPP-J RPC message")
            return
        typ, mid = msg[0], msg[1]
        if typ == _CALL:
            if len(msg) != 4 or not isinstance(msg[2], str):
                await self._error(mid, "RpcFrameworkError", "CALL must be [2, id, action, payload]")
                return
            if self._serving >= _MAX_IN:
                log.warn(_TAG, "<- CALL %s %s refused: %d CALLs already in progress", msg[2], mid, _MAX_IN)
                await self._error(mid, "GenericError", "too many CALLs in progress")
                return
            self._serving += 1
            try:
                asyncio.create_task(self._answer(mid, msg[2], msg[3]))
            except MemoryError:  # the task never runs: its slot must not stay taken
                self._serving -= 1
                raise
        elif typ == _RESULT or typ == _ERROR:
            self._answered(msg)
        else:
            log.warn(_TAG, "<- message type %r not supported", typ)
            await self._error(mid, "MessageTypeNotSupported", "message type %r" % (typ,))

    async def _unparsed(self, text, deep, size=0):
        # answered by the id read off its first bytes, and the connection goes on
        mid = _peek_id(text)
        log.warn(_TAG, "<- message %s to parse (%d bytes), id %s",
                 "too deeply nested" if deep else "too big for the free memory", size or len(text), mid)
        if mid is None:  # a CALLRESULT or CALLERROR we cannot read: nothing to answer
            return
        if mid == "-1":
            await self._error(mid, "RpcFrameworkError", "message could not be parsed")
        elif deep:
            await self._error(mid, "FormatViolation", "message too deeply nested")
        else:
            await self._error(mid, "InternalError", "not enough memory to parse the message")

    def _answered(self, msg):
        p = self._pending
        if p is None or p[0] != msg[1] or p[3] is not None or p[4] is not None:
            log.warn(_TAG, "<- stray %s for %s ignored", "CALLRESULT" if msg[0] == _RESULT else "CALLERROR", msg[1])
            return
        if msg[0] == _RESULT:
            node = validate.response_node(p[1])
            if len(msg) != 3:
                err = ("RpcFrameworkError", "$")
            elif node is not None:
                err = validate.check(node, msg[2])
            else:
                err = None if isinstance(msg[2], dict) else ("FormatViolation", "$")
            if err and (err[1] == "$" or not isinstance(msg[2], dict)):
                log.warn(_TAG, "<- %s response unusable: %s at %s", p[1], err[0], err[1])
                p[4] = CallError(err[0], "invalid response at " + err[1])
            else:
                if err:  # a CSMS quirk: say so, and use what the payload has
                    log.warn(_TAG, "<- %s response breaks its schema (%s at %s): used as far as it goes",
                             p[1], err[0], err[1])
                log.info(_TAG, "<- CALLRESULT %s %s", p[1], p[0])
                p[3] = msg[2]
        else:
            code = msg[2] if isinstance(msg[2], str) else "GenericError"
            desc = msg[3] if len(msg) > 3 and isinstance(msg[3], str) else ""
            det = msg[4] if len(msg) > 4 and isinstance(msg[4], dict) else {}
            log.warn(_TAG, "<- CALLERROR %s %s: %s %s", p[1], p[0], code, desc)
            p[4] = CallError(code, desc, det)
        p[2].set()

    async def _error(self, mid, code, desc, details=None):
        try:
            await self._send([_ERROR, mid, code, desc, details or {}])
        except Exception as e:  # connection gone: the peer will time out its CALL
            log.warn(_TAG, "could not send CALLERROR %s: %r", code, e)

    async def _answer(self, mid, action, payload):
        try:
            await self._answer1(mid, action, payload)
        finally:
            self._serving -= 1

    async def _answer1(self, mid, action, payload):
        log.info(_TAG, "<- CALL %s %s", action, mid)
        if self.guard:
            code = self.guard(action, payload)
            if code:
                await self._error(mid, code, "not accepted in the current registration state")
                return
        h = self._handlers.get(action)
        if h is None:
            if validate.known(action):
                await self._error(mid, "NotSupported", "%s is not supported" % action)
            else:
                await self._error(mid, "NotImplemented", "unknown action")
            return
        node = validate.request_node(action)
        err = validate.check(node, payload) if node is not None else (
            None if isinstance(payload, dict) else ("FormatViolation", "$"))
        if err:
            log.warn(_TAG, "%s %s: %s at %s", action, mid, err[0], err[1])
            await self._error(mid, err[0], "payload invalid at " + err[1], {"path": err[1]})
            return
        after = None
        try:
            res = h(payload)
            if hasattr(res, "send"):  # a coroutine: async handler
                res = await res
            if isinstance(res, tuple):
                res, after = res
        except CallError as e:
            await self._error(mid, e.code, e.description, e.details)
            return
        except Exception as e:
            log.exc(_TAG, e, "handler " + action)
            await self._error(mid, "InternalError", "handler failed")
            return
        try:
            await self._send([_RESULT, mid, res])
            log.info(_TAG, "-> CALLRESULT %s %s", action, mid)
            sent = True
        except Exception as e:  # connection gone mid-reply: the CSMS never saw the answer
            log.warn(_TAG, "reply to %s %s not sent: %r", action, mid, e)
            sent = False
        if after is not None:
            try:
                r = after(sent)
                if hasattr(r, "send"):
                    await r
            except Exception as e:
                log.exc(_TAG, e, "after-reply hook of " + action)
