"""RESP2, the Redis serialization protocol, as a sans-IO codec.

Mirrors the request side of Redis's ``networking.c`` (``processMultibulkBuffer`` and
``processInlineBuffer``) and the frame shapes of tokio's mini-redis ``frame.rs``.

Theory of operation
-------------------
A client sends commands either as *multibulk* arrays of bulk strings::

    *2\r\n$3\r\nGET\r\n$3\r\nkey\r\n

or as *inline* commands, one line of space-separated words (what ``telnet`` or ``nc`` users
type; double and single quotes group words, ``"\\x41"`` style escapes work inside double quotes).

:class:`CommandParser` is fed whatever bytes arrived and returns every *complete* command found
so far as a list of ``bytes`` arguments. An incomplete tail is normal control flow: it is kept and
completed by the next :meth:`CommandParser.feed`. Only the pending tail is ever re-scanned, and a
large bulk string that is still arriving is not re-scanned at all: the parser remembers how many
bytes it needs (``_need``) and only joins the chunks once they are all there. This module's
parser reads every command the careful way (:meth:`CommandParser._parse`: find the CRLF, read
the length, take the bytes); the server runs :class:`.fastpath.FastCommandParser`, the same
parser with a measured shortcut for reads that are runs of whole commands.

A malformed or oversized request sets :attr:`CommandParser.error` to a :class:`ProtocolError`
whose message is the one Redis sends (``Protocol error: invalid bulk length``...). Commands parsed
before the bad bytes are still returned, so the server runs them, replies, then sends the error
and closes the connection, as Redis does. Limits (Redis defaults): a bulk string at most
512 MB (``proto-max-bulk-len``), an array at most 1,048,576 elements, a client query buffer at
most 1 GB (``client-query-buffer-limit``), a length or inline line at most 64 KB.

The encoder side is a handful of functions returning ``bytes``; command handlers build replies
with them directly, so no reply objects are created on the hot path. :class:`ReplyParser` decodes
replies (used by the replica's link to its master and by tests).
"""

from __future__ import annotations

from .errors import ProtocolError

MAX_BULK_LEN = 512 * 1024 * 1024
MAX_MULTIBULK_LEN = 1024 * 1024
MAX_QUERY_BUFFER = 1024 * 1024 * 1024
MAX_INLINE_LEN = 64 * 1024

__all__ = [
    "CommandParser", "ReplyParser", "NEED_DATA", "encode_command", "simple", "error",
    "integer", "bulk", "array", "NULL", "OK", "PONG", "EMPTY_ARRAY", "MAX_BULK_LEN",
    "MAX_MULTIBULK_LEN", "MAX_QUERY_BUFFER", "MAX_INLINE_LEN",
]


class _NeedData:
    """Sentinel returned by :meth:`ReplyParser.next_reply` when a reply is not complete yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class CommandParser:
    """Incremental parser of client requests (multibulk and inline).

    ``feed(data)`` returns the list of complete commands (each a ``list[bytes]``). After a
    protocol violation :attr:`error` is set and every later ``feed`` returns ``[]``.
    """

    __slots__ = ("_chunks", "_have", "_need", "error", "consumed", "_inline")

    def __init__(self, inline: bool = True) -> None:
        self._inline = inline            # False: multibulk only (an AOF, a replication stream)
        self._chunks: list[bytes] = []   # pending bytes not yet consumed
        self._have = 0                   # total length of _chunks
        self._need = 0                   # bytes needed before a parse can make progress
        self.error: ProtocolError | None = None
        self.consumed = 0                # bytes consumed by complete commands (offsets)

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete command."""
        return self._have

    def feed(self, data: bytes, _parts: list | None = None) -> list[list[bytes]]:
        if self.error is not None:
            return []
        if self._have:
            self._have += len(data)
            self._chunks.append(data)
            if self._have < self._need:
                # Still inside a large bulk string: do not join or re-scan yet.
                if self._have > MAX_QUERY_BUFFER:
                    self.error = ProtocolError("Protocol error: query buffer limit exceeded", 0)
                return []
            buf = b"".join(self._chunks)
            self._chunks = []
            self._have = 0
            _parts = None
        else:
            buf = data if type(data) is bytes else bytes(data)
        out: list[list[bytes]] = []
        self._need = 0
        pos = self._fast(buf, out, _parts)
        n = len(buf)
        if pos < n:
            pos = self._parse(buf, out, pos)
        self.consumed += pos
        if pos < n and self.error is None:
            # keep the incomplete tail for the next read
            self._chunks = [buf[pos:]] if pos else [buf]
            self._have = n - pos
            if self._have > MAX_QUERY_BUFFER:
                self.error = ProtocolError("Protocol error: query buffer limit exceeded", pos)
        else:
            self._need = 0
        return out

    def _fail(self, message: str, offset: int) -> None:
        self.error = ProtocolError("Protocol error: " + message, self.consumed + offset)

    def _fast(self, buf: bytes, out: list, parts: list | None = None) -> int:
        """A shortcut over the start of ``buf``; returns where :meth:`_parse` takes over.

        None here: every byte goes through :meth:`_parse`. The server's parser
        (:class:`.fastpath.FastCommandParser`) overrides it with a measured shortcut.
        """
        return 0

    def _parse(self, buf: bytes, out: list, pos: int = 0) -> int:
        """Append complete commands of ``buf`` from ``pos`` to ``out``; return the new offset."""
        n = len(buf)
        find = buf.find
        while pos < n:
            if buf[pos] != 42:  # not '*': an inline command
                if not self._inline:
                    self._fail(f"expected '*', got {chr(buf[pos])!r}", pos)
                    return pos
                nl = find(b"\n", pos)
                if nl < 0:
                    if n - pos > MAX_INLINE_LEN:
                        self._fail("too big inline request", pos)
                    return pos
                args = _split_inline(buf[pos:nl])
                if args is None:
                    self._fail("unbalanced quotes in request", pos)
                    return pos
                pos = nl + 1
                if args:
                    out.append(args)
                continue
            nl = find(b"\r\n", pos)
            if nl < 0:
                if n - pos > MAX_INLINE_LEN:
                    self._fail("too big mbulk count string", pos)
                return pos
            try:
                count = int(buf[pos + 1:nl])
            except ValueError:
                count = -2
            if count > MAX_MULTIBULK_LEN or count == -2:
                self._fail("invalid multibulk length", pos)
                return pos
            p = nl + 2
            if count <= 0:      # "*0" and "*-1" are empty requests, skipped
                pos = p
                continue
            args = []
            append = args.append
            for _ in range(count):
                if p >= n:
                    return pos
                if buf[p] != 36:  # '$'
                    self._fail(f"expected '$', got '{chr(buf[p])}'", p)
                    return pos
                nl = find(b"\r\n", p)
                if nl < 0:
                    if n - p > MAX_INLINE_LEN:
                        self._fail("too big bulk count string", p)
                    return pos
                try:
                    size = int(buf[p + 1:nl])
                except ValueError:
                    size = -1
                if size < 0 or size > MAX_BULK_LEN:
                    self._fail("invalid bulk length", p)
                    return pos
                p = nl + 2 + size
                if p + 2 > n:
                    # Remember how much is needed from the command's start so a large
                    # value arriving in pieces is not re-parsed on every read.
                    self._need = p + 2 - pos
                    return pos
                append(buf[nl + 2:p])
                p += 2  # Redis skips the CRLF after the payload without looking at it
            out.append(args)
            pos = p
        return pos


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def _split_inline(line: bytes) -> list[bytes] | None:
    """Split one inline request line like Redis's ``sdssplitargs``; None on unbalanced quotes."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if b'"' not in line and b"'" not in line:
        return line.split()
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\r\n\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX
                        and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    # the closing quote must be followed by a space or the end
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\v\f":
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\v\f":
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\r\n\v\f":
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


# ---------------------------------------------------------------- encoder

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
NULL = b"$-1\r\n"
NULL_ARRAY = b"*-1\r\n"
EMPTY_ARRAY = b"*0\r\n"


def simple(text: str | bytes) -> bytes:
    """A simple string reply (``+text``); must not contain CR or LF."""
    if isinstance(text, str):
        text = text.encode()
    return b"+" + text + b"\r\n"


def error(text: str) -> bytes:
    """An error reply; ``text`` starts with the error word (``ERR``, ``WRONGTYPE``...)."""
    return b"-" + text.encode() + b"\r\n"


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


def bulk(value: bytes | None) -> bytes:
    if value is None:
        return NULL
    return b"$%d\r\n%s\r\n" % (len(value), value)


def array(items) -> bytes:
    """An array of bulk strings (None items become null bulks)."""
    parts = [b"*%d\r\n" % len(items)]
    for v in items:
        parts.append(NULL if v is None else b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(parts)


def encode_command(args) -> bytes:
    """A request as a multibulk array (what clients send, what the AOF and replicas store)."""
    if len(args) == 3:   # SET key value, the most common write: one formatting call
        a, b, c = args
        return b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
            len(a), a, len(b), b, len(c), c)
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


_MAP_REPLIES = {b"hgetall", b"config", b"hello"}


def to_resp3(name: bytes, reply: bytes) -> bytes:
    """Adapt one RESP2 reply for a client that chose RESP3 with ``HELLO 3``.

    Only the shapes our commands produce differ: a null is ``_``, and the field/value replies
    of HGETALL, CONFIG GET and HELLO are maps (``%n`` instead of ``*2n``). Everything else
    (simple strings, errors, integers, bulks, arrays) is the same in both versions.
    """
    if reply in (NULL, NULL_ARRAY):
        return b"_\r\n"
    if reply[:1] == b"*" and name.lower() in _MAP_REPLIES:
        nl = reply.index(b"\r\n")
        return b"%%%d" % (int(reply[1:nl]) // 2) + reply[nl:]
    return reply


class ReplyParser:
    """Incremental decoder of RESP2 replies into Python values.

    Simple strings decode to ``str``, errors to :class:`ReplyError` instances (returned, not
    raised), integers to ``int``, bulks to ``bytes`` or None, arrays to lists.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def take(self, n: int) -> bytes | None:
        """Raw bytes (used for a snapshot payload that has no CRLF after it)."""
        if len(self._buf) - self._pos < n:
            return None
        out = bytes(self._buf[self._pos:self._pos + n])
        self._pos += n
        return out

    def take_rest(self) -> bytes:
        out = bytes(self._buf[self._pos:])
        self._buf.clear()
        self._pos = 0
        return out

    def next_reply(self):
        """The next complete reply, or NEED_DATA."""
        try:
            value, pos = self._one(self._pos)
        except IndexError:
            return NEED_DATA
        self._pos = pos
        return value

    def _one(self, pos: int):
        buf = self._buf
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            raise IndexError
        kind = buf[pos]
        line = bytes(buf[pos + 1:nl])
        pos = nl + 2
        if kind == 43:    # '+'
            return line.decode(), pos
        if kind == 45:    # '-'
            return ReplyError(line.decode()), pos
        if kind == 58:    # ':'
            return int(line), pos
        if kind == 36:    # '$'
            size = int(line)
            if size < 0:
                return None, pos
            if len(buf) < pos + size + 2:
                raise IndexError
            return bytes(buf[pos:pos + size]), pos + size + 2
        if kind == 42:    # '*'
            count = int(line)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count):
                v, pos = self._one(pos)
                items.append(v)
            return items, pos
        raise ProtocolError(f"Protocol error: bad reply type byte {chr(kind)!r}", pos)


class ReplyError(str):
    """An error reply decoded by :class:`ReplyParser` (a ``str`` holding the message)."""

    def __repr__(self) -> str:
        return f"ReplyError({str.__repr__(self)})"
