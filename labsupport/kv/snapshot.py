"""Point-in-time snapshots (SAVE / BGSAVE) in a small checksummed binary format.

Plays the role of Redis's RDB file (``rdb.c``): a compact image of the whole keyspace that loads
much faster than replaying an AOF, used at start-up and for a replica's full sync.

Format (all integers little-endian)::

    magic  b"KVSNAP01"
    aux    u16 length + JSON text: {"repl_id": ..., "repl_offset": ..., "created_ms": ...}
    record*:
        type u8 (0 string, 1 hash, 2 list, 3 set, 4 zset) | deadline_ms i64 (-1 none) | key (u32 len + bytes)
        string: u32 len + bytes
        hash:   u32 count, then count x (field, value) each u32 len + bytes
        list:   u32 count, then count x (u32 len + bytes)
        set:    u32 count, then count x (u32 len + bytes)
        zset:   u32 count, then count x (member u32 len + bytes, score f64), in order
      or a database switch (RDB's SELECTDB): u8 0xFE | u8 db; the records after it belong to
      that database (database 0 until the first switch)
    end    u8 0xFF
    crc    u32 = zlib.crc32 of every byte before it

The checksum is verified before anything is loaded, so a torn or bit-flipped file is refused
with a :class:`PersistenceError` naming the file, instead of loading half a dataset. Files are
written to a temporary name, fsynced, then renamed over the old one (and the directory
fsynced), so a crash during a save leaves the previous snapshot intact.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections import deque

from .errors import PersistenceError
from .skiplist import ZSet

MAGIC = b"KVSNAP01"
_HDR = struct.Struct("<Bq")
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")
_END = 0xFF
_SELECTDB = 0xFE


def _records(items, parts: list) -> None:
    app = parts.append
    pack_hdr, pack_u32, pack_f64 = _HDR.pack, _U32.pack, _F64.pack
    for key, value, deadline in items:
        t = type(value)
        if t is bytes:
            app(pack_hdr(0, deadline))
            app(pack_u32(len(key)))
            app(key)
            app(pack_u32(len(value)))
            app(value)
        elif t is dict:
            app(pack_hdr(1, deadline))
            app(pack_u32(len(key)))
            app(key)
            app(pack_u32(len(value)))
            for f, v in value.items():
                app(pack_u32(len(f)))
                app(f)
                app(pack_u32(len(v)))
                app(v)
        elif t is deque or t is set:
            app(pack_hdr(2 if t is deque else 3, deadline))
            app(pack_u32(len(key)))
            app(key)
            app(pack_u32(len(value)))
            for v in value:
                app(pack_u32(len(v)))
                app(v)
        elif t is ZSet:
            app(pack_hdr(4, deadline))
            app(pack_u32(len(key)))
            app(key)
            app(pack_u32(len(value)))
            for m, score in value.items():
                app(pack_u32(len(m)))
                app(m)
                app(pack_f64(score))


def _finish(parts: list) -> bytes:
    parts.append(bytes([_END]))
    body = b"".join(parts)
    return body + _U32.pack(zlib.crc32(body))


def _header(aux: dict | None) -> list:
    meta = json.dumps(aux or {}, sort_keys=True).encode()
    return [MAGIC, struct.pack("<H", len(meta)), meta]


def dump(items, aux: dict | None = None) -> bytes:
    """Serialize ``(key, value, deadline_ms)`` triples of one database (database 0)."""
    parts = _header(aux)
    _records(items, parts)
    return _finish(parts)


def dump_dbs(dbs, aux: dict | None = None) -> bytes:
    """Serialize every non-empty database of ``dbs`` (Keyspaces), each after a SELECTDB."""
    parts = _header(aux)
    for n, ks in enumerate(dbs):
        if ks.data:
            parts.append(bytes([_SELECTDB, n]))
            _records(ks.items_with_deadlines(), parts)
    return _finish(parts)


def load(blob: bytes, name: str = "snapshot"):
    """Verify and decode a snapshot; returns ``(aux, [(key, value, deadline_ms, db), ...])``."""
    if len(blob) < len(MAGIC) + 7 or not blob.startswith(MAGIC):
        raise PersistenceError(f"{name}: not a snapshot (bad magic or too short: {len(blob)} bytes)")
    body, (crc,) = blob[:-4], _U32.unpack(blob[-4:])
    actual = zlib.crc32(body)
    if actual != crc:
        raise PersistenceError(f"{name}: checksum mismatch (stored {crc:08x}, computed {actual:08x}); the file is "
                               "damaged or was cut short")
    pos = len(MAGIC)
    (mlen,) = struct.unpack_from("<H", body, pos)
    pos += 2
    aux = json.loads(body[pos:pos + mlen])
    pos += mlen
    out = []
    u32 = _U32.unpack_from
    hdr = _HDR.unpack_from

    def take(p):
        (n,) = u32(body, p)
        return body[p + 4:p + 4 + n], p + 4 + n

    db = 0
    while True:
        kind = body[pos]
        if kind == _END:
            break
        if kind == _SELECTDB:
            db = body[pos + 1]
            pos += 2
            continue
        _, deadline = hdr(body, pos)
        pos += _HDR.size
        key, pos = take(pos)
        if kind == 0:
            value, pos = take(pos)
        elif kind == 1:
            (count,) = u32(body, pos)
            pos += 4
            value = {}
            for _ in range(count):
                f, pos = take(pos)
                v, pos = take(pos)
                value[f] = v
        elif kind == 2 or kind == 3:
            (count,) = u32(body, pos)
            pos += 4
            value = deque() if kind == 2 else set()
            add = value.append if kind == 2 else value.add
            for _ in range(count):
                v, pos = take(pos)
                add(v)
        elif kind == 4:
            (count,) = u32(body, pos)
            pos += 4
            value = ZSet()
            for _ in range(count):
                m, pos = take(pos)
                (score,) = _F64.unpack_from(body, pos)
                pos += 8
                value.add(m, score)
        else:
            raise PersistenceError(f"{name}: unknown record type {kind} at offset {pos}")
        out.append((key, value, deadline, db))
    return aux, out


def restore(ks, entries) -> int:
    """Load the database-0 entries into a keyspace (cleared first); expired ones are skipped."""
    return restore_all([ks], [e for e in entries if (e[3] if len(e) > 3 else 0) == 0])


def restore_all(dbs, entries) -> int:
    """Load decoded entries into their databases (all cleared first); returns keys loaded."""
    for ks in dbs:
        ks.clear()
    n = 0
    for e in entries:
        key, value, deadline = e[0], e[1], e[2]
        db = e[3] if len(e) > 3 else 0
        if db >= len(dbs):
            raise PersistenceError(f"snapshot: database {db} does not exist here "
                                   f"({len(dbs)} databases)")
        ks = dbs[db]
        if deadline != -1 and deadline <= ks.clock_ms() and not ks.is_replica:
            continue
        ks.data[key] = value
        if deadline != -1:
            ks.set_deadline(key, deadline)
        n += 1
    return n
