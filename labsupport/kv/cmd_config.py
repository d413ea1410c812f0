"""CONFIG GET / SET / RESETSTAT and INFO.

Mirrors Redis's ``config.c`` (``configGetCommand``, ``configSetCommand``: several
``name value`` pairs set atomically, glob patterns for GET) and the INFO sections of
``server.c`` (``genRedisInfoString``) with Redis's section and field names. Which parameters
exist, and which are tuning knobs accepted without effect, is documented in :mod:`.settings`.

INFO without argument (or ``default``) prints the default sections; ``all`` adds the others
this server has (``commandstats`` is not kept: counting every command by name would cost the
GET/SET hot path a dictionary update per command); ``everything`` is ``all``.
"""

from __future__ import annotations

import itertools
import os
import resource
import time

from . import glob, notify, resp
from .commands import ADMIN, arity_error, command, parse_int
from .settings import ALIASES, FIXED, KNOBS, settings

VERSION = "7.0.0-labsupport"


def dbs_of(eng) -> list:
    """The engine's databases (one keyspace per SELECT index)."""
    return getattr(eng, "dbs", None) or [eng.ks]


def config_values(eng) -> dict[str, str]:
    c = eng.config
    s = settings(eng)
    return {
        "port": str(c.port), "bind": c.bind, "dir": os.path.abspath(c.dir),
        "appendonly": "yes" if eng.aof is not None else "no", "appendfsync": c.appendfsync,
        "appendfilename": c.appendfilename, "dbfilename": c.dbfilename,
        "hz": str(c.hz), "replicaof": f"{c.replicaof[0]} {c.replicaof[1]}" if c.replicaof else "",
        "repl-backlog-size": str(c.repl_backlog_size), "replica-read-only": "yes",
        "proto-max-bulk-len": str(resp.MAX_BULK_LEN),
        "client-query-buffer-limit": str(resp.MAX_QUERY_BUFFER),
        "requirepass": s["requirepass"].decode("utf-8", "replace"),
        "notify-keyspace-events": notify.flags_to_string(eng.hooks),
        **FIXED, **{k: s[k] for k in KNOBS},
    }


def _fail(name: str, why: str) -> bytes:
    return resp.error(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")


def _memory(text: str) -> int | None:
    """A Redis memory value: ``100``, ``1kb``, ``5mb``, ``2gb``, ``1k``..."""
    t = text.lower()
    mult = 1
    for suffix, m in (("kb", 1024), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1000),
                      ("m", 1000 ** 2), ("g", 1000 ** 3)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    v = parse_int(t.encode())
    return None if v is None or v < 0 else v * mult


def _check(eng, name: str, value: str):
    """Validate one pair; returns (apply function) or an error reply."""
    s = settings(eng)
    if name in KNOBS:
        if parse_int(value.encode()) is None:
            return _fail(name, "argument couldn't be parsed into an integer")
        return lambda: s.__setitem__(name, value)
    if name in FIXED:
        if name == "maxmemory":
            if _memory(value) is None:
                return _fail(name, "argument must be a memory value")
            if _memory(value) != 0:
                return _fail(name, "this server has no memory limit or eviction")
            return lambda: None
        if name == "databases":
            return _fail(name, "can't set immutable config")
        if value.lower() != FIXED[name]:
            return _fail(name, f"only '{FIXED[name]}' is supported by this server")
        return lambda: None
    if name == "notify-keyspace-events":
        flags = notify.parse_flags(value)
        if flags is None:
            return _fail(name, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        return lambda: _set_notify(eng, flags)
    if name == "requirepass":
        return lambda: s.__setitem__("requirepass", value.encode())
    if name == "appendfsync":
        if value.lower() not in ("always", "everysec", "no"):
            return _fail(name, "argument(s) must be one of the following: always, everysec, no")
        return lambda: _set_fsync(eng, value.lower())
    if name == "appendonly":
        if value.lower() not in ("yes", "no"):
            return _fail(name, "argument must be 'yes' or 'no'")
        return lambda: _set_appendonly(eng, value.lower() == "yes")
    if name == "hz":
        v = parse_int(value.encode())
        if v is None:
            return _fail(name, "argument couldn't be parsed into an integer")
        return lambda: setattr(eng.config, "hz", min(max(v, 1), 500))
    if name in ("proto-max-bulk-len", "client-query-buffer-limit"):
        v = _memory(value)
        if v is None:
            return _fail(name, "argument must be a memory value")
        attr = "MAX_BULK_LEN" if name == "proto-max-bulk-len" else "MAX_QUERY_BUFFER"
        return lambda: setattr(resp, attr, v)
    return None


def _set_notify(eng, flags: int) -> None:
    eng.hooks = flags
    for c in eng.clients:   # the "new" class routes every client through the slow path
        c.update_mode()


def _set_fsync(eng, policy: str) -> None:
    from .aof import AofWriter
    eng.config.appendfsync = policy
    if eng.aof is not None:
        eng.aof.close()
        eng.aof = AofWriter(eng.aof_path, policy)


def _set_appendonly(eng, on: bool) -> None:
    """Turn the AOF on (written from the current dataset, as Redis's rewrite) or off."""
    from .aof import AofWriter
    if on and eng.aof is None:
        eng.config.appendonly = True
        eng.aof = AofWriter(eng.aof_path, eng.config.appendfsync)
        eng.rewrite_aof_sync()
    elif not on and eng.aof is not None:
        eng._commit()
        eng.aof.close()
        eng.aof = None
        eng.config.appendonly = False


@command("config", -2, ADMIN)
def cmd_config(cl, argv):
    sub = argv[1].lower()
    if sub == b"get":
        if len(argv) < 3:
            return arity_error(b"config|get")
        values = config_values(cl.engine)
        flat: list[bytes] = []
        seen = set()
        for pat in argv[2:]:
            p = pat.lower().decode("utf-8", "replace")
            p = ALIASES.get(p, p)
            if p in values:
                names = [p]
            else:
                rx = glob.compile(p.encode())
                names = [k for k in values if rx.fullmatch(k.encode())]
            for k in names:
                if k not in seen:
                    seen.add(k)
                    flat += (k.encode(), values[k].encode())
        return resp.array(flat)
    if sub == b"set":
        if len(argv) < 4 or len(argv) % 2:
            return arity_error(b"config|set")
        todo = []
        names = set()
        for i in range(2, len(argv), 2):
            raw = argv[i].decode("utf-8", "replace")
            name = ALIASES.get(raw.lower(), raw.lower())
            if name in names:
                return resp.error(f"ERR CONFIG SET failed (possibly related to argument '{raw}') - duplicate parameter")
            names.add(name)
            r = _check(cl.engine, name, argv[i + 1].decode("utf-8", "replace"))
            if r is None:
                return resp.error(f"ERR Unknown option or number of arguments for CONFIG SET - '{raw}'")
            if type(r) is bytes:
                return r
            todo.append(r)
        for apply in todo:   # all pairs valid: apply them together
            apply()
        return resp.OK
    if sub == b"resetstat" and len(argv) == 2:
        return resp.OK
    if sub == b"rewrite" and len(argv) == 2:
        return b"-ERR The server is running without a config file\r\n"
    return resp.error("ERR unknown subcommand '{}'. Try CONFIG HELP.".format(argv[1].decode("utf-8", "replace")))


def _avg_ttl(ks, now: int) -> int:
    """Mean remaining TTL (ms) over a sample of up to 128 keys with a deadline (an estimate, as Redis's)."""
    sample = [w - now for w in itertools.islice(ks.expires.values(), 128) if w > now]
    return sum(sample) // len(sample) if sample else 0


def _info_sections(eng) -> dict[str, list[str]]:
    dbs = dbs_of(eng)
    now = time.time()
    link = eng.master_link
    repl = ["role:slave" if link is not None else "role:master"]
    if link is not None:
        repl += link.info_lines()
    repl += eng.master.info_lines() if link is None else [
        "connected_slaves:0", f"master_replid:{link.replid or eng.master.replid}",
        f"master_repl_offset:{link.offset}"]
    aof = eng.aof
    ru, rc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    now_ms = int(now * 1000)
    keyspace = [f"db{i}:keys={len(ks.data)},expires={len(ks.expires)},avg_ttl={_avg_ttl(ks, now_ms)}"
                for i, ks in enumerate(dbs) if ks.data]
    return {
        "server": [f"redis_version:{VERSION}", "redis_mode:standalone", "arch_bits:64",
                   f"process_id:{os.getpid()}", f"tcp_port:{eng.config.port}",
                   f"uptime_in_seconds:{int(now - eng.start_time)}",
                   f"uptime_in_days:{int(now - eng.start_time) // 86400}", f"hz:{eng.config.hz}",
                   "executable:python -m labsupport.kv"],
        "clients": [f"connected_clients:{len(eng.clients)}",
                    f"blocked_clients:{sum(1 for c in eng.clients if c.blocked)}",
                    f"pubsub_clients:{sum(1 for c in eng.clients if c.subs or c.psubs)}"],
        "memory": [f"used_memory:{_rss_bytes()}", f"used_memory_rss:{_rss_bytes()}",
                   "maxmemory:0", "maxmemory_policy:noeviction"],
        "persistence": [
            "loading:0", f"rdb_changes_since_last_save:{sum(ks.dirty for ks in dbs)}",
            f"rdb_bgsave_in_progress:{int('rdb' in eng.children.values())}",
            f"rdb_last_save_time:{eng.last_save_time}",
            f"aof_enabled:{int(aof is not None)}",
            f"aof_rewrite_in_progress:{int('aof' in eng.children.values())}",
            f"aof_current_size:{aof.size if aof else 0}",
            f"aof_fsync_count:{aof.fsyncs if aof else 0}"],
        "stats": [f"total_connections_received:{eng.stats['total_connections_received']}",
                  f"total_commands_processed:{eng.commands_processed}",
                  f"expired_keys:{sum(ks.expired_keys for ks in dbs)}",
                  "evicted_keys:0",
                  f"sync_full:{eng.master.sync_full}",
                  f"sync_partial_ok:{eng.master.sync_partial_ok}",
                  f"sync_partial_err:{eng.master.sync_partial_err}",
                  f"pubsub_channels:{len(eng.pubsub.channels)}",
                  f"pubsub_patterns:{len(eng.pubsub.patterns)}"],
        "replication": repl,
        "cpu": [f"used_cpu_sys:{ru.ru_stime:.6f}", f"used_cpu_user:{ru.ru_utime:.6f}",
                f"used_cpu_sys_children:{rc.ru_stime:.6f}",
                f"used_cpu_user_children:{rc.ru_utime:.6f}"],
        "keyspace": keyspace,
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@command("info", -1)
def cmd_info(cl, argv):
    sections = _info_sections(cl.engine)
    wanted: list[str] = []
    for a in argv[1:]:
        w = a.decode("utf-8", "replace").lower()
        names = list(sections) if w in ("all", "everything", "default") else [w]
        wanted += [n for n in names if n not in wanted]
    if not wanted:
        wanted = list(sections)
    text = []
    for name in wanted:
        if name in sections:
            text.append(f"# {name.capitalize()}\r\n" + "".join(
                line + "\r\n" for line in sections[name]))
    return resp.bulk("\r\n".join(text).encode())
