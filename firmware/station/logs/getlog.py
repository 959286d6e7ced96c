# GetLog (N01): upload the diagnostics or the security log (logs/ring.py) to the CSMS's remoteLocation over
# HTTP(S), streamed from flash in chunks while the station goes on working. Loaded with the first GetLog.
#
#   g = GetLog({"DiagnosticsLog": diag, "SecurityLog": seclog}, outbox, logstate, ssl, name)
#   rpc.on("GetLog", g.handle)
# Order per request: GetLogResponse, LogStatusNotification Uploading, the transfer only after the CSMS has
# answered that (TC_F_16: a trigger during the transfer must still find Uploading), then Uploaded or one
# failure status after the last attempt (N01.FR.08-10). A GetLog during an upload cancels it: the new one
# is answered AcceptedCanceled, the old one's last word is LogStatusNotification AcceptedCanceled with its
# own requestId (N01.FR.12/20; the spec does not say which id, the digest suggests the cancelled one's).
# The upload is not persisted: after a reset there is none running, which is what the trigger then says.
import asyncio

from micropython import const

from station import clock, log
from station.logs.ring import stamp_of  # loaded at boot already (the logs themselves)

_TAG = "getlog"
_CHUNK = const(512)
# retryInterval absent: the spec leaves it to the station; half a minute lets a server restart.
_RETRY_S = const(30)
_SCHEMES = ("http://", "https://")


class _Source:
    # Reads the log's segments as they were when the upload started (pinned: none is removed meanwhile),
    # keeping the lines within [lo, hi]. A line with a clock marker (before the clock was set) takes the
    # time of the line before it; a torn line is left out. With no bounds whole segments are copied.
    def __init__(self, segs, lo, hi):
        self._segs = segs
        self._lo = lo
        self._hi = hi
        self._i = -1
        self._f = None
        self._left = 0
        self._t = None
        self._line = b""

    def close(self):
        if self._f:
            self._f.close()
            self._f = None

    def _next_file(self):
        self.close()
        self._i += 1
        if self._i >= len(self._segs):
            return False
        path, self._left = self._segs[self._i]
        try:
            self._f = open(path, "rb")
        except OSError:  # gone (cleared): nothing of it
            self._left = 0
        return True

    def _keep(self, line):
        t = stamp_of(line)
        if t is False:
            return False
        if t is None:
            t = self._t
        self._t = t
        if self._lo is not None and (t is None or t < self._lo):
            return False
        return self._hi is None or t is None or t <= self._hi

    def __call__(self, buf):
        n = 0
        room = len(buf)
        mv = memoryview(buf)
        while n < room:
            if self._line:  # what did not fit last time
                k = min(room - n, len(self._line))
                mv[n:n + k] = self._line[:k]
                self._line = self._line[k:]
                n += k
                continue
            if self._left <= 0 or self._f is None:
                if not self._next_file():
                    break
                continue
            if self._lo is None and self._hi is None:
                k = self._f.readinto(mv[n:n + min(room - n, self._left)])
                if not k:
                    self._left = 0
                    continue
                self._left -= k
                n += k
                continue
            line = self._f.readline()
            if not line:
                self._left = 0
                continue
            line = line[: self._left]
            self._left -= len(line)
            if line[-1:] == b"\n" and self._keep(line):
                self._line = line
        return n


def _size(segs, lo, hi, buf):
    src = _Source(segs, lo, hi)
    total = 0
    try:
        while True:
            n = src(buf)
            if not n:
                return total
            total += n
    finally:
        src.close()


def _status(e):
    # An HTTP failure -> the most precise LogStatusEnumType (N01.FR.10).
    s = getattr(e, "status", None)
    if s in (401, 403):
        return "PermissionDenied"
    if s in (405, 501):
        return "NotSupportedOperation"
    if s == 400:
        return "BadMessage"
    return "UploadFailure"


class GetLog:
    def __init__(self, rings, outbox, state, ssl, name):
        self._rings = rings
        self._ob = outbox
        self._state = state  # LogState: the trigger reads .uploading
        self._ssl = ssl
        self._name = name
        self._job = None  # (requestId, task)

    def handle(self, req):
        ring = self._rings.get(req["logType"])
        loc = req["log"]["remoteLocation"]
        if ring is None:  # N01.FR.05
            return {"status": "Rejected", "statusInfo": {"reasonCode": "NoSuchLog"}}
        if not loc.startswith(_SCHEMES):  # only what FileTransferProtocols lists
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedProtocol",
                                                          "additionalInfo": "HTTP and HTTPS only"}}
        try:  # the bounds are inside `log` (a known MicroOcpp bug reads them from the top level)
            lo = req["log"].get("oldestTimestamp")
            lo = clock.parse(lo) if lo else None
            hi = req["log"].get("latestTimestamp")
            hi = clock.parse(hi) if hi else None
        except ValueError:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidTimestamp"}}
        kind = "security" if req["logType"] == "SecurityLog" else "diagnostics"
        fname = "%s-%s-%s.log" % (self._name, kind, clock.rfc3339().replace(":", "") if clock.known() else "0")
        retries = req.get("retries")
        job = (req["requestId"], ring, loc, lo, hi, fname,
               retries if retries is not None and retries >= 0 else 1,
               req.get("retryInterval") or _RETRY_S)
        busy = self._job is not None
        resp = {"status": "AcceptedCanceled" if busy else "Accepted", "filename": fname[:255]}
        return resp, lambda sent: self._start(job) if sent else None

    def _start(self, job):
        if self._job is not None:  # N01.FR.12/20: the running upload ends here, with AcceptedCanceled
            rid, task = self._job
            task.cancel()
            self._notify("AcceptedCanceled", rid)
        self._job = (job[0], asyncio.create_task(self._run(job)))

    def _notify(self, status, rid, done=None):
        p = {"status": status, "requestId": rid}
        if not self._ob.put("LogStatusNotification", p, on_result=done):
            log.error(_TAG, "LogStatusNotification %s for %d dropped: queue full", status, rid)
            if done:
                done(None)

    async def _run(self, job):
        rid, ring, loc, lo, hi, fname, retries, interval = job
        from station.transport import http

        answered = asyncio.Event()
        self._state.uploading = rid
        ring.pin()
        final = "UploadFailure"
        try:
            self._notify("Uploading", rid, lambda res: answered.set())
            await answered.wait()  # the transfer only after the CSMS took Uploading
            segs = ring.snapshot()
            buf = bytearray(_CHUNK)
            size = _size(segs, lo, hi, buf)
            log.info(_TAG, "request %d: %d bytes of %s to %s", rid, size, fname, loc)
            srcs = []

            def source():  # a fresh reader per request (a 405 to the POST is retried as a PUT)
                srcs.append(_Source(segs, lo, hi))
                return srcs[-1]

            for attempt in range(retries + 1):
                if attempt:
                    await asyncio.sleep(interval)
                try:
                    st = await http.upload(loc, fname, source, size, ssl=self._ssl, buf=buf,
                                           content_type="text/plain")
                    log.info(_TAG, "request %d uploaded (HTTP %d)", rid, st)
                    final = "Uploaded"
                    break
                except http.HttpError as e:
                    final = _status(e)
                    log.warn(_TAG, "request %d attempt %d of %d: %s %s", rid, attempt + 1, retries + 1,
                             e.status, e.reason)
                finally:
                    while srcs:
                        srcs.pop().close()
        except asyncio.CancelledError:  # a newer GetLog took over: it has said AcceptedCanceled for us
            final = None
            raise
        except Exception as e:  # a bug or no memory: the CSMS still hears how it ended
            log.exc(_TAG, e, "upload %d" % rid)
        finally:
            ring.unpin()
            if self._job and self._job[0] == rid and final is not None:
                self._job = None
            if self._state.uploading == rid:
                self._state.uploading = None
            if final is not None:
                self._notify(final, rid)
