# The on-flash queue of TransactionEvents (E04: they survive disconnects and power cuts).
# One file per event, named q<8-digit order><S|U|E>, so the order and the kind are known from the
# directory listing alone and RAM holds only the names, not the payloads.
import json

import log

_TAG = "txq"


class TxQueue:
    def __init__(self, store, bound=200):
        # store: a station.store.Store of its own directory. bound: events kept at most.
        self._st = store
        self._bound = bound
        import os

        names = [n for n in os.listdir(store.root) if len(n) == 10 and n[0] == "q"]
        names.sort()
        self._names = names
        self.taken = None  # the name peek() last handed to the sender: on the wire or about to be
        self._next = int(names[-1][1:9]) + 1 if names else 0

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._names

    def push(self, payload):
        """Queue one TransactionEvent request payload; written to flash before this returns."""
        if len(self._names) >= self._bound:
            self._drop_one()
        name = "q%08d%s" % (self._next, payload["eventType"][0])
        self._next += 1
        self._st.write(name, json.dumps(payload))
        self._names.append(name)
        return name

    def _drop_one(self):
        # Intermediate Updated events go first; Started/Ended carry the transaction's bounds.
        victim = None
        for n in self._names:
            if n[9] == "U":
                victim = n
                break
        if victim is None:
            victim = self._names[0]
        log.error(_TAG, "queue full (%d): dropping %s", self._bound, victim)
        self.ack(victim)

    def _load(self, name):
        try:
            return json.loads(self._st.read(name))
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
        self._st.remove(name)
        if name in self._names:
            self._names.remove(name)

    def max_seq(self, tx_id):
        """Highest seqNo still queued for a transaction, or -1 (recovery after a power cut)."""
        hi = -1
        for n in self._names:
            p = self._load(n)
            if p and p["transactionInfo"]["transactionId"] == tx_id and p["seqNo"] > hi:
                hi = p["seqNo"]
        return hi
