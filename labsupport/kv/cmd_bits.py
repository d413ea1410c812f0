"""Bitmap commands on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP.

Mirrors Redis's ``bitops.c``. A bitmap is an ordinary string; bit 0 is the most significant
bit of byte 0. SETBIT past the end grows the string with zero bytes (bounded by Redis's 512 MB
string limit: offsets below 2**32). Counting uses ``int.bit_count`` over the byte range, done
in C; BITOP combines whole strings as big integers.
"""

from __future__ import annotations

from .commands import NOT_INT, SYNTAX, WRITE, WRONGTYPE, command, parse_int

BAD_OFFSET = b"-ERR bit offset is not an integer or out of range\r\n"


def _string(cl, key: bytes):
    v = cl.ks.lookup(key)
    if v is not None and type(v) is not bytes:
        return None, WRONGTYPE
    return v, None


@command("setbit", 4, WRITE)
def cmd_setbit(cl, argv):
    off = parse_int(argv[2])
    if off is None or not 0 <= off < (1 << 32):
        return BAD_OFFSET
    if argv[3] not in (b"0", b"1"):
        return b"-ERR bit is not an integer or out of range\r\n"
    v, err = _string(cl, argv[1])
    if err:
        return err
    buf = bytearray(v or b"")
    byte, bit = off >> 3, 7 - (off & 7)
    if byte >= len(buf):
        buf.extend(bytes(byte + 1 - len(buf)))
    old = (buf[byte] >> bit) & 1
    if argv[3] == b"1":
        buf[byte] |= 1 << bit
    else:
        buf[byte] &= ~(1 << bit) & 0xFF
    cl.ks.set(argv[1], bytes(buf), keep_ttl=True)
    cl.engine.propagate(argv)
    return b":%d\r\n" % old


@command("getbit", 3)
def cmd_getbit(cl, argv):
    off = parse_int(argv[2])
    if off is None or not 0 <= off < (1 << 32):
        return BAD_OFFSET
    v, err = _string(cl, argv[1])
    if err:
        return err
    v = v or b""
    byte = off >> 3
    if byte >= len(v):
        return b":0\r\n"
    return b":%d\r\n" % ((v[byte] >> (7 - (off & 7))) & 1)


def _range(n: int, start: int, end: int):
    """Redis's clamping of a (start, end) range over n units; None if empty."""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    return None if start > end or n == 0 else (start, end)


def _bits(v: bytes, start: int, end: int) -> str:
    """The bits ``start..end`` (inclusive) of ``v`` as a '0'/'1' string."""
    first, last = start >> 3, end >> 3
    chunk = int.from_bytes(v[first:last + 1], "big")
    width = (last - first + 1) * 8
    s = format(chunk, f"0{width}b")
    return s[start - first * 8:end - first * 8 + 1]


def _parse_range_args(args):
    """(start, end, bit_mode, error) for ``[start end [BYTE|BIT]]``."""
    if not args:
        return None, None, False, None
    if len(args) == 1:
        return None, None, False, SYNTAX
    start, end = parse_int(args[0]), parse_int(args[1])
    if start is None or end is None:
        return None, None, False, NOT_INT
    bit_mode = False
    if len(args) == 3:
        unit = args[2].upper()
        if unit not in (b"BYTE", b"BIT"):
            return None, None, False, SYNTAX
        bit_mode = unit == b"BIT"
    elif len(args) > 3:
        return None, None, False, SYNTAX
    return start, end, bit_mode, None


@command("bitcount", -2)
def cmd_bitcount(cl, argv):
    start, end, bit_mode, err = _parse_range_args(argv[2:])
    if err:
        return err
    v, err = _string(cl, argv[1])
    if err:
        return err
    v = v or b""
    if start is None:
        return b":%d\r\n" % int.from_bytes(v, "big").bit_count()
    r = _range(len(v) * 8 if bit_mode else len(v), start, end)
    if r is None:
        return b":0\r\n"
    if bit_mode:
        return b":%d\r\n" % _bits(v, *r).count("1")
    return b":%d\r\n" % int.from_bytes(v[r[0]:r[1] + 1], "big").bit_count()


@command("bitpos", -3)
def cmd_bitpos(cl, argv):
    if argv[2] not in (b"0", b"1"):
        return b"-ERR The bit argument must be 1 or 0.\r\n"
    bit = argv[2]
    args = argv[3:]
    end_given = len(args) >= 2
    if len(args) == 1:
        start = parse_int(args[0])
        if start is None:
            return NOT_INT
        end, bit_mode = -1, False
    else:
        start, end, bit_mode, err = _parse_range_args(args)
        if err:
            return err
        if start is None:
            start, end = 0, -1
    v, err = _string(cl, argv[1])
    if err:
        return err
    if v is None:
        return b":-1\r\n" if bit == b"1" else b":0\r\n"
    r = _range(len(v) * 8 if bit_mode else len(v), start, end)
    if r is None:
        return b":-1\r\n"
    lo, hi = (r[0], r[1]) if bit_mode else (r[0] * 8, r[1] * 8 + 7)
    pos = _bits(v, lo, hi).find(bit.decode())
    if pos >= 0:
        return b":%d\r\n" % (lo + pos)
    if bit == b"0" and not end_given:
        return b":%d\r\n" % (hi + 1)   # clear bits are assumed past the end of the string
    return b":-1\r\n"


@command("bitop", -4, WRITE)
def cmd_bitop(cl, argv):
    op = argv[1].upper()
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        return SYNTAX
    if op == b"NOT" and len(argv) != 4:
        return b"-ERR BITOP NOT must be called with a single source key.\r\n"
    srcs = []
    for k in argv[3:]:
        v, err = _string(cl, k)
        if err:
            return err
        srcs.append(v or b"")
    n = max(map(len, srcs))
    if op == b"NOT":
        res = bytes(~c & 0xFF for c in srcs[0])
    else:
        ints = [int.from_bytes(s.ljust(n, b"\x00"), "big") for s in srcs]
        acc = ints[0]
        for x in ints[1:]:
            acc = acc & x if op == b"AND" else acc | x if op == b"OR" else acc ^ x
        res = acc.to_bytes(n, "big") if n else b""
    ks = cl.ks
    if res:
        ks.set(argv[2], res)
    else:
        ks.delete(argv[2])
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(res)

