# The download of an update: streamed from http(s) straight into the image slot that is not running, in
# chunks of one preallocated buffer, SHA-256 computed on the way; the image is never whole in RAM. The slot
# is only written here, never set to boot (that is the install's finish(), after the signature check).
import hashlib

from micropython import const

# 1 KiB, not a 4 KiB flash block: the ESP32's slot writer writes each chunk in place (erasing a block when the
# image reaches it), and on a heap fragmented by a day's work a 4 KiB block may not be found when an update
# comes (seen in CI on the host: MemoryError for the 4096-byte buffer, at the first attempt and the retry alike).
_CHUNK = const(1024)


async def into_slot(get, url, st):
    """(writer, SHA-256 digest) of the whole body of url written into st.board.slots' inactive slot. get:
    http.get's signature (None: station.transport.http.get). Raises what get raises, or OSError (flash, an
    answer that is no 2xx); the slot's writer is aborted then, and when cancelled."""
    if get is None:
        from station.transport import http

        get = http.get
    w = st.board.slots.writer()
    h = hashlib.sha256()

    def sink(mv):
        h.update(mv)
        w.write(mv)

    try:
        # https trusts what GetLog's uploads trust (the station's one rule for file servers: app.file_tls)
        status = await get(url, sink, ssl=st.file_tls if url.startswith("https:") else None,
                           buf=bytearray(_CHUNK))
        if not 200 <= status < 300:
            raise OSError("HTTP %s" % status)
    except BaseException:  # failed, or cancelled by a new UpdateFirmware: nothing of this attempt may stay
        w.abort()
        raise
    return w, h.digest()
