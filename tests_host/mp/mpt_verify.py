# Signature verification and X.509 reading (station.certs: p256, rsa, x509, verify) under MicroPython with
# a capped heap, on data from CPython (the self-contained checks: mpt_sigs.py, mpt_x509.py).
# case_* (not test_*: the harness does not collect them) are run by tests_host/test_verify.py with what
# `cryptography` made: a file (path in argv[4]) of records, read one at a time (exact sizes: no line buffer
# growing in a capped heap): a key letter, a field count, then each field as a 2-byte length and its bytes.
# Each case prints one "R <json>" line per record, which the CPython side checks against cryptography.
# Heaps: 8K above the largest that failed (4K steps, .mpy build), as the heap a run needs moves by a few K
# with the data (PSS salts are random), the path names and fragmentation; ~35 KB of it is this module and
# the certs modules as bytecode in RAM (frozen on a board). Smallest that passed: case_chain 68K (but 72K
# failed once: 35 chains, most with an RSA-3072 root), case_parse 60-68K, case_fuzz 48K, case_digest 44K,
# case_rsa (up to 4096 bits), case_ecdsa, case_der_sig 36K.
import binascii
import gc
import hashlib
import json
import sys

from station.certs import der, x509

# Each case imports every module it will use before it reads any data, also those the firmware loads on
# first use (cert, exts, names, ecdsa, rsa): one loaded midway would stay among the data and split the heap.
from mptest import eq

TIMEOUT = 120
_NOW = b"20260601000000"


def _records():
    with open(sys.argv[4], "rb") as f:
        while True:
            head = f.read(2)
            if not head:
                return
            out = [chr(head[0])]
            for _ in range(head[1]):
                n = f.read(2)
                out.append(f.read(n[0] << 8 | n[1]))
            yield out


def _h(b):
    return binascii.hexlify(b).decode()


def _sha(b):
    return _h(hashlib.sha256(b).digest())


def _out(v):
    print("R " + json.dumps(v))


def _try(fn, *args):
    # fn's result (a generator driven to its last value), or the exception's class name: the CPython side
    # decides which it expects.
    try:
        r = fn(*args)
        if type(r).__name__ == "generator":
            g = r
            for r in g:  # noqa: B007 - the last value is the result
                pass
        return r
    except MemoryError:
        raise  # the heap cap is the test's, not a result
    except Exception as e:  # the name of anything unexpected is what the test reports
        return type(e).__name__


def _steps(gen):
    # [last value, whether all before it were None, how many values]: no list of the yields (a chain
    # yields ~260 times per ECDSA check).
    n = 0
    quiet = True
    last = None
    for v in gen:
        quiet = quiet and last is None
        last = v
        n += 1
    return [last, quiet, n]


def _key_bits(spki):
    s, e = x509.expect(spki, 0, len(spki), 0x30)
    s = x509.expect(spki, s, e, 0x30)[1]
    s, e = x509.expect(spki, s, e, 0x03)
    return spki[s + 1 : e]


def case_digest():  # heap: 52K
    # "d" spki, h, sig -> verify.digest's last value, or the exception's name
    from station.certs import ecdsa, rsa, verify  # noqa: F401

    for f in _records():
        _out(_try(verify.digest, f[1], f[2], f[3]))


def _rsa(spki, h, sig):
    from station.certs import rsa

    n, e = rsa.key(spki)
    eq(rsa.key(_key_bits(spki)), (n, e))  # the key bits alone give the same key
    return [_sha(b"%x" % n), e] + [rsa.verify(n, e, h, sig, pss) for pss in (None, True, False)]


def case_rsa():  # heap: 44K
    # "r" spki, h, sig -> [sha256 of n's hex, e, verify(pss=None), verify(True), verify(False)]
    from station.certs import rsa  # noqa: F401

    for f in _records():
        _out(_try(_rsa, f[1], f[2], f[3]))


def case_ecdsa():  # heap: 44K
    # "e" x, y, h, r, s (big-endian) -> [p256.verify's last value, all before it None, how many]
    from station.certs import ecdsa, p256  # noqa: F401 - p256.verify is ecdsa.verify

    for f in _records():
        x, y, r, s = (int.from_bytes(v, "big") for v in (f[1], f[2], f[4], f[5]))
        _out(_steps(p256.verify(x, y, f[3], r, s)))


def case_der_sig():  # heap: 44K
    # "s" sig -> ["%x" r, "%x" s] or the exception's name
    from station.certs import ecdsa, p256  # noqa: F401

    for f in _records():
        r = _try(p256.der_sig, f[1])
        _out(["%x" % r[0], "%x" % r[1]] if isinstance(r, tuple) else r)


def _fields(c):
    # the long byte fields as their SHA-256 (the heap is capped), the short ones as they are
    out = {}
    for k in ("der", "tbs", "issuer", "subject", "spki", "key", "sig"):
        out[k] = _sha(getattr(c, k))
    for k in ("serial", "alg", "params"):
        out[k] = _h(getattr(c, k))
    for k in ("ca", "path_len", "key_usage", "san_dns", "crit"):
        out[k] = getattr(c, k)
    out["nb"], out["na"] = c.nb.decode(), c.na.decode()
    return out


def case_parse():  # heap: 72K
    # "c" cert, issuer cert -> the Cert's fields, CN / O of subject and issuer, hash_data(cert, issuer),
    # signed_by(cert, issuer)
    from station.certs import cert, ecdsa, exts, names, rsa, verify  # noqa: F401

    for f in _records():
        c = x509.parse(f[1])
        i = x509.parse(f[2])
        r = _fields(c)
        r["cn"] = x509.attr(c.subject, der.OID_CN)
        r["o"] = x509.attr(c.subject, der.OID_O)
        r["issuer_cn"] = x509.attr(c.issuer, der.OID_CN)
        r["hash"] = x509.hash_data(c, i)
        r["signed"] = _try(verify.signed_by, c, i)
        _out(r)


def _name_types(c):
    return [type(x509.attr(c.subject, der.OID_CN)).__name__, type(x509.attr(c.issuer, der.OID_O)).__name__]


def case_fuzz():  # heap: 56K
    # "f" issuer cert first, then "m" mutant -> ["Cert", signed_by, attr types, hash_data keys,
    # chain] or [parse's exception name]: for a Cert, everything downstream gives a result or ValueError.
    from station.certs import cert, ecdsa, exts, names, verify  # noqa: F401

    issuer = None
    for f in _records():
        if f[0] == "f":
            issuer = x509.parse(f[1])
            continue
        c = _try(x509.parse, f[1])
        if not isinstance(c, x509.Cert):
            _out([c])
            continue
        h = _try(x509.hash_data, c, c)
        _out(["Cert", _try(verify.signed_by, c, issuer), _try(_name_types, c), sorted(h) if isinstance(h, dict) else h,
              _try(verify.chain, [c], [issuer], _NOW)])


def case_chain():  # heap: 80K
    # "a" cert adds an anchor, "c" cert a chain certificate (leaf first); "t" now (empty: None) then runs
    # chain() on them -> [its last value, all before it None, how many]; then the next case.
    from station.certs import cert, ecdsa, exts, rsa, verify  # noqa: F401

    anchors, certs = [], []
    for f in _records():
        if f[0] == "t":
            _out(_steps(verify.chain(certs, anchors, f[1] or None)))
            anchors, certs = [], []
            gc.collect()  # this case's garbage gone before the next one's certificates are read
        else:
            (anchors if f[0] == "a" else certs).append(x509.parse(f[1]))
