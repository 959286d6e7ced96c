# What CertificateSigned must deliver before the station installs it (A02.FR.06-16, errata 2025-01):
# the size bound, every certificate parses, the leaf carries the key of a request of ours, the subject is
# ours (O = OrganizationName, CN = serial number or SECC id, no DNS name), and the chain verifies
# signature by signature, each certificate valid now, up to a trust anchor. Checks run cheapest first;
# the signature checks yield to the event loop (pure-Python P-256 takes seconds on an ESP32).
import asyncio

from station import log
from station.certs import der, roots, verify, x509
from station.certs.keystore import ACCEPTED, REJECTED, slots_for

_TAG = "certs"
_MAX = 6  # certificates in a chain: leaf, up to 4 sub-CAs, and possibly the root itself
_REASONS = {"Expired": "CertificateExpired", "NotYetValid": "NotYetValid"}  # the rest: InvalidChain


async def _run(gen):
    r = None
    i = 0
    for x in gen:
        r = x
        i += 1
        if i % 8 == 0:
            await asyncio.sleep_ms(0)
    return r


def _rejected(reason, why):
    log.warn(_TAG, "CertificateSigned rejected (%s): %s", reason, why)
    return REJECTED, reason


async def install(ks, kind, chain, anchors, org, cn, max_size=10000):
    """Check and install a CertificateSigned chain: (ACCEPTED, None) or (REJECTED, reasonCode).
    Never raises for bad input. anchors: trust anchors (x509.Cert list)."""
    try:
        slots_for(kind)
    except ValueError:
        return _rejected("UnknownType", kind)
    if not isinstance(chain, str):
        return _rejected("InvalidCertificate", "not a string")
    if len(chain) > max_size:  # A02.FR.16
        return _rejected("ChainTooLong", "over MaxCertificateChainSize %d" % max_size)
    try:
        certs = [x509.parse(d) for d in x509.unpem(chain)]
        if len(certs) > _MAX:
            raise ValueError("%d certificates" % len(certs))
        x, y, par = x509.ec_point(certs[0].spki)
    except Exception as e:  # untrusted input: anything malformed is a rejection, never a crash
        return _rejected("InvalidCertificate", repr(e))
    slot, name, rec = ks.match(kind, x, y, par)
    if slot is None:
        return _rejected("KeyMismatch" if name else "NoPendingRequest", "not a key of ours")
    leaf = certs[0]
    try:
        o, n = x509.attr(leaf.subject, der.OID_O), x509.attr(leaf.subject, der.OID_CN)
    except ValueError as e:  # a damaged name (the signature check would refuse it too, later and dearer)
        return _rejected("InvalidCertificate", repr(e))
    if o != org or n != cn:
        return _rejected("SubjectMismatch", "want O=%s CN=%s" % (org, cn))
    if leaf.san_dns:  # A00: the station's certificate names no host
        return _rejected("SubjectMismatch", "subjectAltName with a DNS name")
    t = roots.now()
    if t is None:
        log.warn(_TAG, "clock unknown: validity of the new certificate not checked")
    try:
        why = await _run(verify.chain(certs, anchors, t))
    except Exception as e:  # an algorithm we cannot verify, a malformed signature
        why = repr(e)
    if why is not None:
        return _rejected(_REASONS.get(why, "InvalidChain"), why)
    try:
        ks.keep(slot, name, rec, chain)
    except OSError as e:
        log.error(_TAG, "certificate not stored: %r", e)
        return REJECTED, "StorageFailed"
    return ACCEPTED, None


def installed_chain(ks, slot, name=None):
    """The parsed chain (leaf first) installed in slot (file name: <slot>.crt unless given), or None."""
    rec = ks._load(name or slot + ".crt", "chain")
    if rec is None:
        return None
    try:
        return [x509.parse(d) for d in x509.unpem(rec["chain"])]
    except ValueError as e:
        log.warn(_TAG, "installed chain in %s unreadable: %r", slot, e)
        return None


def load_der(path):
    """[the certificate in a DER file], or [] when it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return [x509.parse(f.read())]
    except (OSError, ValueError) as e:
        log.warn(_TAG, "CA %s not usable as a trust anchor: %r", path, e)
        return []
