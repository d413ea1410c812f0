"""More string commands: SETNX SETEX PSETEX GETSET GETEX MSETNX INCRBYFLOAT GETRANGE SUBSTR
SETRANGE LCS.

Mirrors Redis's ``t_string.c``. The SET variants are SET with fixed options (so they share its
checks and its propagation). GETEX and INCRBYFLOAT are propagated by effect: the absolute
deadline (``PEXPIREAT``) or ``PERSIST``, and ``SET key result KEEPTTL``, so a replay never
depends on the clock or on float arithmetic. LCS is the textbook dynamic programme, O(n*m)
time and memory, walked back from the end to list the matching ranges as Redis does; its
table is bounded (:data:`LCS_MAX_CELLS`) so one call cannot stall the server for long.
"""

from __future__ import annotations

from . import resp
from .cmd_strings import cmd_set
from .commands import LLONG_MAX, NOT_INT, SYNTAX, WRITE, WRONGTYPE, arity_error, command, parse_int
from .values import add_long_double, parse_float

MAX_STRING = 512 * 1024 * 1024
LCS_MAX_CELLS = 25_000_000


def _string(cl, key: bytes):
    v = cl.ks.lookup(key)
    if v is not None and type(v) is not bytes:
        return None, WRONGTYPE
    return v, None


@command("setnx", 3, WRITE)
def cmd_setnx(cl, argv):
    r = cmd_set(cl, [b"SET", argv[1], argv[2], b"NX"])
    return b":1\r\n" if r == resp.OK else b":0\r\n"


@command("setex", 4, WRITE)
def cmd_setex(cl, argv):
    return cmd_set(cl, [argv[0], argv[1], argv[3], b"EX", argv[2]])


@command("psetex", 4, WRITE)
def cmd_psetex(cl, argv):
    return cmd_set(cl, [argv[0], argv[1], argv[3], b"PX", argv[2]])


@command("getset", 3, WRITE)
def cmd_getset(cl, argv):
    return cmd_set(cl, [b"SET", argv[1], argv[2], b"GET"])


@command("getex", -2, WRITE)
def cmd_getex(cl, argv):
    ks = cl.ks
    unit = None
    when = None
    persist = False
    i = 2
    while i < len(argv):
        o = argv[i].upper()
        if o in (b"EX", b"PX", b"EXAT", b"PXAT") and unit is None and not persist and i + 1 < len(argv):
            unit, when = o, argv[i + 1]
            i += 1
        elif o == b"PERSIST" and unit is None and not persist:
            persist = True
        else:
            return SYNTAX
        i += 1
    deadline = None
    if unit is not None:
        v = parse_int(when)
        if v is None:
            return NOT_INT
        bad = b"-ERR invalid expire time in 'getex' command\r\n"
        if v <= 0:
            return bad
        if unit in (b"EX", b"EXAT"):
            if v > LLONG_MAX // 1000:
                return bad
            v *= 1000
        if unit in (b"EX", b"PX"):
            now = ks.clock_ms()
            if v > LLONG_MAX - now:
                return bad
            v += now
        deadline = v
    val, err = _string(cl, argv[1])
    if err or val is None:
        return err or resp.NULL
    if deadline is not None:
        if deadline <= ks.clock_ms() and not ks.is_replica:
            ks.delete(argv[1])
            cl.engine.propagate([b"DEL", argv[1]])
        else:
            ks.set_deadline(argv[1], deadline)
            cl.engine.propagate([b"PEXPIREAT", argv[1], b"%d" % deadline])
    elif persist and ks.persist(argv[1]):
        cl.engine.propagate([b"PERSIST", argv[1]])
    return resp.bulk(val)


@command("msetnx", -3, WRITE)
def cmd_msetnx(cl, argv):
    if len(argv) % 2 == 0:
        return arity_error(argv[0])
    ks = cl.ks
    if any(ks.lookup(argv[i]) is not None for i in range(1, len(argv), 2)):
        return b":0\r\n"
    for i in range(1, len(argv), 2):
        ks.set(argv[i], argv[i + 1])
    cl.engine.propagate([b"MSET", *argv[1:]])
    return b":1\r\n"


@command("incrbyfloat", 3, WRITE)
def cmd_incrbyfloat(cl, argv):
    d = parse_float(argv[2])
    if d is None:
        return b"-ERR value is not a valid float\r\n"
    v, err = _string(cl, argv[1])
    if err:
        return err
    if v is not None and parse_float(v) is None:
        return b"-ERR value is not a valid float\r\n"
    text = add_long_double(v or b"0", argv[2])
    if text is None:
        return b"-ERR increment would produce NaN or Infinity\r\n"
    cl.ks.set(argv[1], text, keep_ttl=True)
    cl.engine.propagate([b"SET", argv[1], text, b"KEEPTTL"])
    return resp.bulk(text)


@command("getrange", 4)
def cmd_getrange(cl, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    if start is None or end is None:
        return NOT_INT
    v, err = _string(cl, argv[1])
    if err:
        return err
    v = v or b""
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b"$0\r\n\r\n"
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    if start > end or n == 0:
        return b"$0\r\n\r\n"
    return resp.bulk(v[start:end + 1])


@command("substr", 4)
def cmd_substr(cl, argv):
    return cmd_getrange(cl, argv)


@command("setrange", 4, WRITE)
def cmd_setrange(cl, argv):
    off = parse_int(argv[2])
    if off is None:
        return NOT_INT
    if off < 0:
        return b"-ERR offset is out of range\r\n"
    v, err = _string(cl, argv[1])
    if err:
        return err
    piece = argv[3]
    if not piece:
        return b":%d\r\n" % len(v or b"")
    if off + len(piece) > MAX_STRING:
        return b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    v = v or b""
    if len(v) < off:
        v = v + b"\x00" * (off - len(v))
    v = v[:off] + piece + v[off + len(piece):]
    cl.ks.set(argv[1], v, keep_ttl=True)
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(v)


def lcs_table(a: bytes, b: bytes) -> list[list[int]]:
    """``t[i][j]`` = length of the LCS of ``a[:i]`` and ``b[:j]``."""
    t = [[0] * (len(b) + 1)]
    for i in range(1, len(a) + 1):
        prev = t[-1]
        row = [0] * (len(b) + 1)
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            row[j] = prev[j - 1] + 1 if ai == b[j - 1] else max(prev[j], row[j - 1])
        t.append(row)
    return t


def lcs_matches(a: bytes, b: bytes, t, minlen: int = 0):
    """(lcs bytes, [((a_start, a_end), (b_start, b_end), length), ...]) walking back from the
    end of both strings, as Redis lists them (last match first)."""
    i, j = len(a), len(b)
    out = bytearray()
    matches = []
    alen = len(a)
    a0 = a1 = b0 = b1 = alen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if a0 == alen:
                a0 = a1 = i - 1
                b0 = b1 = j - 1
            elif a0 == i and b0 == j:
                a0 -= 1
                b0 -= 1
            else:
                emit = True
            if a0 == 0 or b0 == 0:
                emit = True
            i -= 1
            j -= 1
        else:
            if t[i - 1][j] > t[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if a0 != alen:
                emit = True
        if emit:
            n = a1 - a0 + 1
            if minlen == 0 or n >= minlen:
                matches.append(((a0, a1), (b0, b1), n))
            a0 = alen
    return bytes(reversed(out)), matches


@command("lcs", -3)
def cmd_lcs(cl, argv):
    want_len = want_idx = with_len = False
    minlen = 0
    i = 3
    while i < len(argv):
        o = argv[i].upper()
        if o == b"IDX":
            want_idx = True
        elif o == b"LEN":
            want_len = True
        elif o == b"WITHMATCHLEN":
            with_len = True
        elif o == b"MINMATCHLEN" and i + 1 < len(argv):
            minlen = parse_int(argv[i + 1])
            if minlen is None:
                return NOT_INT
            minlen = max(minlen, 0)
            i += 1
        else:
            return SYNTAX
        i += 1
    a, err = _string(cl, argv[1])
    b, err2 = _string(cl, argv[2])
    if err or err2:
        return b"-ERR The specified keys must contain string values\r\n"
    if want_len and want_idx:
        return b"-ERR If you want both the length and indexes, please just use IDX.\r\n"
    a, b = a or b"", b or b""
    if (len(a) + 1) * (len(b) + 1) > LCS_MAX_CELLS:
        return resp.error(f"ERR LCS needs {(len(a) + 1) * (len(b) + 1)} table cells, more than "
                          f"this server's bound of {LCS_MAX_CELLS}")
    t = lcs_table(a, b)
    if want_len:
        return b":%d\r\n" % t[-1][-1]
    s, matches = lcs_matches(a, b, t, minlen)
    if not want_idx:
        return resp.bulk(s)
    body = []
    for (a0, a1), (b0, b1), n in matches:
        item = b"*%d\r\n*2\r\n:%d\r\n:%d\r\n*2\r\n:%d\r\n:%d\r\n" % (
            3 if with_len else 2, a0, a1, b0, b1)
        body.append(item + (b":%d\r\n" % n if with_len else b""))
    head = b"%2\r\n" if cl.resp3 else b"*4\r\n"
    return (head + resp.bulk(b"matches") + b"*%d\r\n" % len(body) + b"".join(body)
            + resp.bulk(b"len") + b":%d\r\n" % len(s))
