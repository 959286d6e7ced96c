# An UpdateFirmware request read and checked before it is answered (L01.FR.21/22, TC_L_18): the job record
# it becomes (job.py), or the answer that refuses it.
import asyncio

from micropython import const

from station import clock

_RETRIES = const(1)  # when the request leaves retries out (the station chooses)
_INTERVAL = const(30)  # s, when it leaves retryInterval out


def no(reason, info=None):
    si = {"reasonCode": reason}
    if info:
        si["additionalInfo"] = info[:512]
    return {"status": "Rejected", "statusInfo": si}


async def read(store, req, security):
    """(job record, None), or (None, the answer: Rejected, or InvalidCertificate with its after-hook that
    queues the security event InvalidFirmwareSigningCertificate, L01.FR.02)."""
    fw = req["firmware"]
    pem, sig = fw.get("signingCertificate"), fw.get("signature")
    if not pem and not sig:  # TC_L_18: a secure-update station refuses unsigned updates
        return None, no("UnsignedFirmware", "signingCertificate and signature are required (L01)")
    try:
        rt = clock.parse(fw["retrieveDateTime"])
        it = clock.parse(fw["installDateTime"]) if fw.get("installDateTime") else None
    except ValueError as e:
        return None, no("InvalidValue", str(e))
    cert, why = None, "no signingCertificate"
    if pem:
        from station.update import check

        for r in check.signing_cert(store.sub("certs"), pem):  # the ECDSA check lets the loop run
            if r is None:
                await asyncio.sleep_ms(0)
            else:
                cert, why = r
    if cert is None:
        return None, ({"status": "InvalidCertificate", "statusInfo": {"reasonCode": "InvalidCertificate",
                                                                      "additionalInfo": why[:512]}},
                      lambda sent: security.event("InvalidFirmwareSigningCertificate", why))
    n, ivl = req.get("retries"), req.get("retryInterval")
    return {"id": req["requestId"], "st": None, "ph": "dl", "loc": fw["location"], "rt": rt, "it": it,
            "left": _RETRIES if n is None else max(0, n), "ivl": _INTERVAL if ivl is None else max(0, ivl),
            "cert": pem, "sig": sig, "slot": None}, None
