# The on-flash queue of TransactionEvents (E04: they survive disconnects and power cuts), and, as a second
# instance with action "SecurityEventNotification", of security events (A04.FR.02: guaranteed delivery).
# One file per event, named q<8-digit order><kind>, kind S(tarted), U(pdated), T (Updated for a
# TriggerMessage), E(nded) or X (any other message), so the order and the kind are known from the
# directory listing alone and RAM holds only the names, not the payloads. When the bound or a full flash
# forces a drop, plain Updated events go first, then triggered ones (the CSMS was promised those,
# F06.FR.10); Started and Ended carry the transaction's bounds and go last. An event that finds the
# flash full with nothing left to drop is kept in RAM until sent: lost only if the power fails before that.
import json

from station import clock
from station import log

_TAG = "txq"


class TxQueue:
    def __init__(self, store, bound=200, action="TransactionEvent"):
        # store: a station.store.Store of its own directory. bound: events kept at most. action: the
        # CALL the outbox sends each payload as.
        self.action = action
        self._store = store
        self._bound = bound
        names = [n for n in store.names() if len(n) == 10 and n[0] == "q"]
        names.sort()
        self._names = names
        self._ram = {}  # name -> payload that could not be written (flash full)
        self._marked = set()  # names whose timestamps are still clock markers (clock unknown)
        self.taken = None  # the name peek() last handed to the sender: on the wire or about to be
        self._next = int(names[-1][1:9]) + 1 if names else 0

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._names

    def push(self, payload, triggered=False):
        """Queue one request payload; on flash (or, flash full, in RAM) when this returns."""
        if len(self._names) >= self._bound:
            v = self._victim(True)
            log.error(_TAG, "queue full (%d): dropping %s", self._bound, v)
            self.ack(v)
        name = "q%08d%s" % (self._next, "T" if triggered else payload.get("eventType", "X")[0])
        self._next += 1
        data = json.dumps(payload)
        while True:
            try:
                self._store.write(name, data)
                break
            except OSError as e:
                v = self._victim(False)
                if v is None:
                    log.error(_TAG, "flash full (%r): %s kept in RAM until sent", e, name)
                    self._ram[name] = payload
                    break
                log.error(_TAG, "flash full (%r): dropping %s to make room", e, v)
                self.ack(v)
        self._names.append(name)
        if clock.marked(payload):
            self._marked.add(name)
        return name

    def free(self):
        """Drop one intermediate Updated to make room on a full flash; False if there is none."""
        v = self._victim(False)
        if v is None:
            return False
        log.error(_TAG, "flash full: dropping %s to make room", v)
        self.ack(v)
        return True

    def _victim(self, any_kind):
        for kinds in ("U", "T"):
            for n in self._names:
                if n[9] == kinds and n not in self._ram:
                    return n
        return self._names[0] if any_kind and self._names else None

    def _load(self, name):
        p = self._ram.get(name)
        if p is not None:
            return p
        try:
            return json.loads(self._store.read(name))
        except (TypeError, ValueError):
            return None

    def peek(self):
        """(name, payload) of the oldest queued event, or None. A corrupt file is dropped, not sent."""
        while self._names:
            name = self._names[0]
            p = self._load(name)
            if p is not None:
                self.taken = name
                return name, p
            log.error(_TAG, "dropping unreadable %s", name)
            self.ack(name)
        return None

    def ack(self, name):
        """The CSMS has it (or it was given up): forget it."""
        if self._ram.pop(name, None) is None:
            self._store.remove(name)
        self._marked.discard(name)
        if name in self._names:
            self._names.remove(name)

    def holds(self, pred):
        """True when a queued payload satisfies pred(payload) (reads the files: for small queues)."""
        for n in self._names:
            p = self._load(n)
            if p is not None and pred(p):
                return True
        return False

    def scan(self):
        """One pass over the queue after a boot: {transactionId: [highest seqNo, Ended queued, evse id,
        connector id]} for the recovery, reading each file once."""
        out = {}
        for n in self._names:
            p = self._load(n)
            try:
                info = out.get(p["transactionInfo"]["transactionId"])
                if info is None:
                    info = out[p["transactionInfo"]["transactionId"]] = [-1, False, None, None]
                info[0] = max(info[0], p["seqNo"])
                info[1] = info[1] or p["eventType"] == "Ended"
                ev = p.get("evse")
                if ev:
                    info[2], info[3] = ev["id"], ev.get("connectorId")
            except (TypeError, KeyError):  # unreadable: peek() drops it when it comes to the head
                continue
            if clock.marked(p):
                self._marked.add(n)
        return out

    def settle(self):
        """The clock has become known: write real times over the markers of queued events, so a later
        power cut cannot leave them to be guessed again."""
        # In queue order: a cut half-way leaves the older events with real times, the newer ones with
        # markers, which a later boot resolves to a later time, so the order of times still holds.
        for n in sorted(self._marked):
            p = self._load(n)
            if p is None or not clock.fix(p):
                continue
            if n not in self._ram:
                try:
                    self._store.write(n, json.dumps(p))
                except OSError as e:  # the sender resolves them again when it sends them
                    log.warn(_TAG, "%s: times not rewritten (%r)", n, e)
                    return
            self._marked.discard(n)
