# The update job as ONE record on flash (Store file update.JOB, replaced atomically): whatever a power cut
# interrupts, the next boot reads either the record before a step or the one after it.
#   id    requestId                      st   the last FirmwareStatusNotification status sent
#   ph    phase: "dl" (scheduled or downloading: redone from the start after a reboot, the half-written
#         slot is never set to boot), "inst" (Installing sent; the slot may already be set to boot),
#         "boot" (InstallRebooting sent, the reset is under way)
#   loc   location    rt / it   retrieve / install time (Unix s; it None: as soon as possible)
#   left  retries left (failed attempts count, an attempt cut by a power loss does not)
#   ivl   retryInterval s              cert / sig   signingCertificate PEM, signature base64
#   slot  the slot being written (the new image boots from it)
import json

from station.update import JOB


def load(store):
    raw = store.read(JOB)
    if not raw:
        return None
    try:
        j = json.loads(raw)
        j["id"], j["ph"]  # a record without them is not one of ours
        return j
    except (ValueError, KeyError, TypeError):
        store.remove(JOB)
        return None


def save(store, j):
    store.write(JOB, json.dumps(j))


def clear(store):
    store.remove(JOB)
