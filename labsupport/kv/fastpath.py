"""The fast path: reads that are runs of one command shape, parsed and executed column-wise.

A measured optimisation of the general path (:meth:`.resp.CommandParser.feed` then
:meth:`.engine.Engine.run_batch`), which gives the same replies and writes the same bytes to the
AOF and the replication stream (``tests/test_kv_runs.py`` checks it down to the bytes on disk).

Why it exists
-------------
A cache serves mostly GET and SET, and a client library sends them as one command per read or
as pipelines of one shape (``redis-benchmark -P 16``: 16 GETs in one read). On the general path
each command costs a parse loop iteration, a list, a dispatch lookup, a handler call and a reply
append: in CPython, a few Python-level function calls per command, which is most of the time
per command. Measured in-process (no sockets, :func:`measure`) on the lab's 2-core machine
under load: a read of 16 pipelined GETs costs about 5.5 us per GET on the general path and
1.2 us here (4.4x); one unpipelined GET 7.7 us and 3.8 us (2x). Run :func:`measure` to see the
numbers on your machine.

Theory of operation
-------------------
* :meth:`FastCommandParser.feed_run` recognises a read that is exactly ``k`` whole commands with
  the same name and argument count, with one ``split`` on CRLF and strided slices over the
  tokens (C-level work), and returns ``(name, columns, read)`` instead of ``k`` lists.
* :func:`run_run` executes a run of plain GETs or plain ``SET key value`` column-wise: the values
  come from one ``map`` over the keys and the reply is one ``join``; a SET run's AOF and
  replication record is the read itself (its bytes *are* the commands' RESP encoding). Any state
  the shortcut does not cover (deadlines, subscribed mode, a read-only replica, RESP3, a
  blocked client, any other command) goes to :meth:`.engine.Engine.run_batch`.
* :meth:`FastCommandParser._fast` speeds up the general parse of any read the same way (split
  once, check each ``$len`` against its token) and leaves the careful path
  (:meth:`.resp.CommandParser._parse`) whatever it cannot vouch for.
"""

from __future__ import annotations

import time

from . import cmd_strings  # noqa: F401  (registers GET and SET in LOOKUP)
from .commands import LOOKUP, WRONGTYPE
from .resp import NULL, OK, CommandParser, encode_command

__all__ = ["FastCommandParser", "run_run", "measure"]

GET_ENTRY = LOOKUP[b"GET"]
SET_ENTRY = LOOKUP[b"SET"]
_BULK_HEADS = [b"$%d" % n for n in range(4096)]   # "$n" by value length, for GET runs
# Length and count tokens the shortcut recognises without int(): "$0".."$4095", "*1".."*64".
_LENS = {b"$%d" % n: n for n in range(4096)}
_COUNTS = {b"*%d" % n: n for n in range(1, 65)}


class FastCommandParser(CommandParser):
    """:class:`.resp.CommandParser` with the run shortcut (what the server's connections use)."""

    __slots__ = ()

    def feed_run(self, data: bytes):
        """:meth:`feed` for the server's reads, with a shortcut for the commonest read.

        A read that is exactly ``k`` complete commands of one shape (16 pipelined GETs, one
        SET: the same name, the same number of arguments, nothing pending before it) comes
        back as a tuple ``(name, columns, data)``: ``columns[j]`` is the list of the ``k``
        values of argument ``j + 1``, ``data`` the read itself. The run is cut with strided
        slices of one ``split``, column by column, so no per-command list is built. Anything
        else returns what :meth:`feed` returns, from the same split.
        """
        if self._have or self.error is not None or type(data) is not bytes:
            return self.feed(data)
        parts = data.split(b"\r\n")
        last = len(parts) - 1
        count = _COUNTS.get(parts[0])
        if count is not None and count > 1 and not parts[last]:
            stride = 1 + 2 * count
            lens = _LENS.get
            if last == stride:   # a single command (unpipelined): unrolled for GET and SET
                if count == 2:
                    if lens(parts[1]) == len(parts[2]) and lens(parts[3]) == len(parts[4]):
                        self.consumed += len(data)
                        return parts[2], [[parts[4]]], data
                elif count == 3 and (lens(parts[1]) == len(parts[2])
                                     and lens(parts[3]) == len(parts[4])
                                     and lens(parts[5]) == len(parts[6])):
                    self.consumed += len(data)
                    return parts[2], [[parts[4]], [parts[6]]], data
                return self.feed(data, parts)
            k, rem = divmod(last, stride)
            # the same "*N" heads every command, the same "$n" + name follows each one
            if (not rem and parts[0:last:stride].count(parts[0]) == k
                    and parts[1:last:stride].count(parts[1]) == k
                    and parts[2:last:stride].count(parts[2]) == k
                    and _LENS.get(parts[1]) == len(parts[2])):
                cols = []
                for j in range(1, count):
                    col = parts[2 + 2 * j:last:stride]
                    heads = parts[1 + 2 * j:last:stride]
                    if heads.count(heads[0]) == k:   # one "$n" for the column (fixed-width keys)
                        if list(map(len, col)) != [lens(heads[0])] * k:
                            break
                    elif list(map(lens, heads)) != list(map(len, col)):
                        break
                    cols.append(col)
                else:
                    self.consumed += len(data)
                    return parts[2], cols, data
        return self.feed(data, parts)

    def _fast(self, buf: bytes, out: list, parts: list | None = None) -> int:
        """Fast path for the common case; returns the byte offset where it stopped.

        Splits the whole read on CRLF once (one C-level pass), then takes each multibulk
        command's arguments as a strided slice of the tokens and only checks that every
        ``$len`` matches its token. It stops, leaving the rest to :meth:`_parse`, at the first
        thing it cannot vouch for: an inline command, an incomplete command, a value that
        itself contains CRLF (its length will not match), anything malformed.
        """
        if parts is None:              # feed_run may have split this read already
            parts = buf.split(b"\r\n")
        last = len(parts) - 1          # parts[last] has no CRLF after it: never complete
        i = 0
        append = out.append
        counts, lens = _COUNTS.get, _LENS.get
        count = counts(parts[0])
        if count is not None and last > 2 * (stride := 1 + 2 * count):
            # A pipelined read is often a run of commands of one shape (16 GETs, 100 SETs):
            # check and cut the whole run column by column with strided slices, in C.
            k = last // stride
            end = k * stride
            if parts[0:end:stride].count(parts[0]) == k:
                cols = []
                for j in range(count):
                    col = parts[2 + 2 * j:end:stride]
                    if list(map(lens, parts[1 + 2 * j:end:stride])) != list(map(len, col)):
                        break
                    cols.append(col)
                else:
                    out.extend(map(list, zip(*cols)))
                    i = end
        while i < last:
            count = counts(parts[i])   # "*1".."*64" only; anything else -> careful path
            if count is None:
                break
            end = i + 1 + 2 * count
            if end > last:
                break
            # every "$n" token must be a known length equal to its argument's length
            if count == 2:     # GET key, the commonest shape: unrolled
                a, b = parts[i + 2], parts[i + 4]
                if lens(parts[i + 1]) != len(a) or lens(parts[i + 3]) != len(b):
                    break
                append([a, b])
            elif count == 3:   # SET key value
                a, b, c = parts[i + 2], parts[i + 4], parts[i + 6]
                if (lens(parts[i + 1]) != len(a) or lens(parts[i + 3]) != len(b)
                        or lens(parts[i + 5]) != len(c)):
                    break
                append([a, b, c])
            else:
                args = parts[i + 2:end:2]
                if list(map(lens, parts[i + 1:end:2])) != list(map(len, args)):
                    break
                append(args)
            i = end
        if i == last:  # everything up to the final CRLF was consumed
            return len(buf) - len(parts[last])
        return sum(map(len, parts[:i])) + 2 * i


def run_run(self, cl, name: bytes, cols: list, read: bytes) -> None:
    """A read that is one run of a single command shape (:meth:`FastCommandParser.feed_run`).

    Runs of plain GETs and of plain ``SET key value`` are executed column-wise, with a few
    C-level calls for the whole run instead of a dispatch per command: the values come
    from one ``map`` over the keys, the reply is one ``join``, the AOF/replication record
    of a SET run is the read itself (its bytes *are* the commands' RESP encoding). Other
    runs, and any client or keyspace state the shortcut does not cover (deadlines,
    subscribed mode, a read-only replica, RESP3, a blocked client), go through
    :meth:`run_batch` with the same replies.
    """
    ks = cl.ks   # the client's database
    entry = LOOKUP.get(name)
    if not (cl.slow or cl.blocked or ks.expires) and entry is not None:
        if entry is GET_ENTRY and len(cols) == 1:
            keys = cols[0]
            if len(keys) == 1:   # unpipelined: one GET, cmd_get's common case inlined
                v = ks.data.get(keys[0])
                self.commands_processed += 1
                self._end_batch(cl, NULL if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
                                if type(v) is bytes else WRONGTYPE)
                return
            vals = list(map(ks.data.get, keys))
            try:   # None (missing), a hash or list (WRONGTYPE), a long value: TypeError etc.
                items = [b""] * (2 * len(vals) + 1)
                items[0:-1:2] = map(_BULK_HEADS.__getitem__, map(len, vals))
                items[1::2] = vals
                reply = b"\r\n".join(items)
            except (TypeError, IndexError):
                reply = b"".join([
                    NULL if v is None else
                    b"$%d\r\n%s\r\n" % (len(v), v) if type(v) is bytes else WRONGTYPE
                    for v in vals])
            self.commands_processed += len(vals)
            if self._pending or cl.held is not None:
                self._end_batch(cl, reply)
            else:
                cl.write(reply)
            return
        # SETs recorded as the read itself: only when the streams are on this database already
        # and no WATCH or keyspace notification needs to see the keys
        if (entry is SET_ENTRY and len(cols) == 2 and cl.db == self.stream_db
                and not (self.watched or self.hooks)):
            keys, vals = cols
            k = len(keys)
            if k == 1:
                ks.data[keys[0]] = vals[0]
            else:
                ks.data.update(zip(keys, vals))
            ks.dirty += k
            self.commands_processed += k
            if (self.defer is None or self.aof is None or self.master.backlog is not None
                    or self._pending):
                self._pending.append(read)   # already RESP: logged and replicated as is
                self._end_batch(cl, OK * k)
                return
            # The usual case (AOF on, no replicas): what _end_batch does, inlined.
            self._aof_cmds.append(read)
            held = cl.held
            if held is None:
                cl.held = [OK * k]
                self._held.append(cl)
            else:
                held.append(OK * k)
            if not self._commit_scheduled:
                self._commit_scheduled = True
                self.defer(self._commit)
            return
    self.run_batch(cl, [[name, *args] for args in zip(*cols)])



def measure(n: int = 20_000, pipeline: int = 16, value_len: int = 10) -> dict[str, float]:
    """Microseconds per GET, general path against fast path, in-process (no sockets).

    Feeds the same read (``pipeline`` GETs of existing keys) ``n`` times through
    ``CommandParser.feed`` + ``Engine.run_batch`` and through ``FastCommandParser.feed_run`` +
    :func:`run_run`; the replies are discarded.
    """
    from .engine import Engine

    eng = Engine()
    for i in range(pipeline):
        eng.apply([b"SET", b"key:%06d" % i, b"v" * value_len])
    read = b"".join(encode_command([b"GET", b"key:%06d" % i]) for i in range(pipeline))
    cl = eng.new_client(lambda data: None)
    general, fast = CommandParser(), FastCommandParser()

    def timed(step) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - t0) / (n * pipeline) * 1e6

    us_general = timed(lambda: eng.run_batch(cl, general.feed(read)))
    us_fast = timed(lambda: run_run(eng, cl, *fast.feed_run(read)))
    return {"general_us_per_get": us_general, "fast_us_per_get": us_fast,
            "speedup": us_general / us_fast}
