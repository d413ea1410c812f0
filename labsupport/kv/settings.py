"""Run-time settings that CONFIG SET changes, beyond the start-up :class:`~.engine.Config`.

Mirrors the part of Redis's ``config.c`` table this server has. Each parameter is either
*effective* (the server behaves differently once it is set) or a *tuning knob*: a setting
Redis documents as a memory/encoding threshold that never changes a reply. A knob is accepted,
stored and returned by CONFIG GET, and has no effect here, because this server's
representations (Python dicts, deques, sorted containers) have no compact encoding to switch
to. Anything else that this server cannot honour is refused with Redis's CONFIG SET error,
rather than accepted and silently ignored.

Tuning knobs accepted without effect (Redis's "advanced config" encoding thresholds):
``list-max-listpack-size`` (alias ``list-max-ziplist-size``), ``list-compress-depth``,
``hash-max-listpack-entries`` / ``-value`` (aliases ``hash-max-ziplist-*``),
``zset-max-listpack-entries`` / ``-value`` (aliases ``zset-max-ziplist-*``),
``set-max-intset-entries``, ``stream-node-max-entries``, ``stream-node-max-bytes``.

Settings accepted only at the value that describes this server: ``save ""`` (no automatic
snapshots), ``maxmemory 0`` (no limit, no eviction), ``maxmemory-policy noeviction``,
``replica-serve-stale-data yes``, ``databases 16`` (read-only).
"""

from __future__ import annotations

KNOBS = {
    "list-max-listpack-size": "-2", "list-compress-depth": "0",
    "hash-max-listpack-entries": "128", "hash-max-listpack-value": "64",
    "zset-max-listpack-entries": "128", "zset-max-listpack-value": "64",
    "set-max-intset-entries": "512", "stream-node-max-entries": "100",
    "stream-node-max-bytes": "4096",
}
ALIASES = {
    "list-max-ziplist-size": "list-max-listpack-size",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
}
FIXED = {"save": "", "maxmemory": "0", "maxmemory-policy": "noeviction",
         "replica-serve-stale-data": "yes", "databases": "16"}


def settings(eng) -> dict:
    """The engine's run-time settings (created with the defaults on first use)."""
    s = eng.__dict__.get("_settings")
    if s is None:
        s = eng.__dict__["_settings"] = {
            "requirepass": b"", "active_expire": True, **KNOBS}
    return s
