"""Connection and server commands: PING ECHO SELECT QUIT CLIENT COMMAND INFO CONFIG, SAVE BGSAVE
BGREWRITEAOF LASTSAVE, REPLICAOF / SLAVEOF.

Mirrors the replies of Redis's ``server.c``, ``config.c`` and ``replication.c`` closely enough
for redis-cli, redis-benchmark and redis-py: INFO uses Redis's section and field names, COMMAND
answers what redis-cli asks at start-up, CONFIG GET knows the options this server has.
"""

from __future__ import annotations

import os
import time

from . import resp
from .commands import (
    ADMIN,
    COMMANDS,
    NOT_INT,
    PUBSUB,
    WRITE,
    alias,
    arity_error,
    command,
    glob_to_regex,
    parse_int,
)

VERSION = "7.0.0-labsupport"


@command("ping", -1, PUBSUB)
def cmd_ping(cl, argv):
    if len(argv) > 2:
        return arity_error(argv[0])
    if cl.subs or cl.psubs:   # in subscribed mode PING answers in the shape of a message
        return b"*2\r\n$4\r\npong\r\n" + resp.bulk(argv[1] if len(argv) > 1 else b"")
    return resp.PONG if len(argv) == 1 else resp.bulk(argv[1])


@command("hello", -1, PUBSUB)
def cmd_hello(cl, argv):
    """Protocol handshake: RESP2 or RESP3 (redis-py 5+ sends ``HELLO 3`` first)."""
    if len(argv) > 1:
        ver = parse_int(argv[1])
        if ver is None:
            return b"-ERR Protocol version is not an integer or out of range\r\n"
        if ver not in (2, 3):
            return b"-NOPROTO unsupported protocol version\r\n"
        cl.resp3 = ver == 3
        cl.update_mode()
    role = b"replica" if cl.engine.master_link is not None else b"master"
    reply = (b"*14\r\n" + resp.bulk(b"server") + resp.bulk(b"redis") + resp.bulk(b"version")
            + resp.bulk(VERSION.encode()) + resp.bulk(b"proto") + b":%d\r\n" % (3 if cl.resp3 else 2)
            + resp.bulk(b"id") + b":%d\r\n" % cl.id + resp.bulk(b"mode") + resp.bulk(b"standalone")
            + resp.bulk(b"role") + resp.bulk(role) + resp.bulk(b"modules") + resp.EMPTY_ARRAY)
    return resp.to_resp3(argv[0], reply) if cl.resp3 else reply


@command("echo", 2)
def cmd_echo(cl, argv):
    return resp.bulk(argv[1])


@command("select", 2)
def cmd_select(cl, argv):
    db = parse_int(argv[1])
    if db is None:
        return NOT_INT
    if db != 0:
        return b"-ERR DB index is out of range\r\n"
    return resp.OK


@command("quit", -1, PUBSUB)
def cmd_quit(cl, argv):
    cl.close_after = True
    return resp.OK


@command("client", -2)
def cmd_client(cl, argv):
    sub = argv[1].lower()
    if sub in (b"setname", b"setinfo", b"reply", b"no-evict", b"no-touch"):
        return resp.OK
    if sub == b"getname":
        return resp.NULL
    if sub == b"id":
        return b":%d\r\n" % cl.id
    return resp.error("ERR unknown subcommand '{}'. Try CLIENT HELP.".format(argv[1].decode("utf-8", "replace")))


def _command_info(name: bytes) -> bytes:
    """One command's COMMAND INFO entry (the 10 fields of Redis 7)."""
    _fn, arity, flags = COMMANDS[name]
    words = [b"write" if flags & WRITE else b"readonly"]
    if flags & PUBSUB:
        words.append(b"pubsub")
    keys = b":0\r\n:0\r\n:0\r\n" if flags & (PUBSUB | ADMIN) else b":1\r\n:1\r\n:1\r\n"
    acl = resp.array([b"@write" if flags & WRITE else b"@read"])
    # Redis 7's 10 fields: ... first/last key, step, ACL categories, tips, key specs, subcommands
    return (b"*10\r\n" + resp.bulk(name) + b":%d\r\n" % arity + resp.array(words) + keys + acl
            + resp.EMPTY_ARRAY * 3)


@command("command", -1)
def cmd_command(cl, argv):
    if len(argv) == 1:
        names = sorted(COMMANDS)
        return b"*%d\r\n" % len(names) + b"".join(_command_info(n) for n in names)
    sub = argv[1].lower()
    if sub == b"count":
        return b":%d\r\n" % len(COMMANDS)
    if sub == b"docs":
        return resp.EMPTY_ARRAY
    if sub == b"info":
        out = [b"*%d\r\n" % (len(argv) - 2)]
        for n in argv[2:]:
            out.append(_command_info(n.lower()) if n.lower() in COMMANDS else resp.NULL_ARRAY)
        return b"".join(out)
    return resp.error("ERR unknown subcommand '{}'. Try COMMAND HELP.".format(argv[1].decode("utf-8", "replace")))


def _config_values(eng) -> dict[str, str]:
    c = eng.config
    return {
        "port": str(c.port), "bind": c.bind, "dir": os.path.abspath(c.dir),
        "appendonly": "yes" if c.appendonly else "no", "appendfsync": c.appendfsync,
        "appendfilename": c.appendfilename, "dbfilename": c.dbfilename,
        "save": "", "databases": "1", "maxmemory": "0", "hz": str(c.hz),
        "replicaof": f"{c.replicaof[0]} {c.replicaof[1]}" if c.replicaof else "",
        "repl-backlog-size": str(c.repl_backlog_size), "replica-read-only": "yes",
        "proto-max-bulk-len": str(resp.MAX_BULK_LEN),
        "client-query-buffer-limit": str(resp.MAX_QUERY_BUFFER),
    }


@command("config", -2, ADMIN)
def cmd_config(cl, argv):
    sub = argv[1].lower()
    if sub == b"get":
        if len(argv) < 3:
            return arity_error(b"config|get")
        values = _config_values(cl.engine)
        flat = []
        for pat in argv[2:]:
            rx = glob_to_regex(pat.lower())
            for k, v in values.items():
                if rx.fullmatch(k.encode()) and k.encode() not in flat:
                    flat += (k.encode(), v.encode())
        return resp.array(flat)
    if sub == b"set":
        if len(argv) < 4 or len(argv) % 2:
            return arity_error(b"config|set")
        name = argv[2].lower()
        if name == b"appendfsync" and argv[3].lower() in (b"always", b"everysec", b"no"):
            return _set_fsync(cl.engine, argv[3].lower().decode())
        return resp.error("ERR Unknown option or number of arguments for CONFIG SET - '{}'".format(argv[2].decode("utf-8", "replace")))
    if sub == b"resetstat":
        return resp.OK
    return resp.error("ERR unknown subcommand '{}'. Try CONFIG HELP.".format(argv[1].decode("utf-8", "replace")))


def _set_fsync(eng, policy: str) -> bytes:
    from .aof import AofWriter
    eng.config.appendfsync = policy
    if eng.aof is not None:
        eng.aof.close()
        eng.aof = AofWriter(eng.aof_path, policy)
    return resp.OK


def _info_sections(eng) -> dict[str, list[str]]:
    ks = eng.ks
    now = time.time()
    link = eng.master_link
    repl = ["role:slave" if link is not None else "role:master"]
    if link is not None:
        repl += link.info_lines()
    repl += eng.master.info_lines() if link is None else [
        "connected_slaves:0", f"master_replid:{link.replid or eng.master.replid}",
        f"master_repl_offset:{link.offset}"]
    aof = eng.aof
    return {
        "server": [f"redis_version:{VERSION}", "redis_mode:standalone",
                   f"process_id:{os.getpid()}", f"tcp_port:{eng.config.port}",
                   f"uptime_in_seconds:{int(now - eng.start_time)}", f"hz:{eng.config.hz}"],
        "clients": [f"connected_clients:{len(eng.clients)}",
                    f"blocked_clients:{sum(1 for c in eng.clients if c.blocked)}"],
        "memory": [f"used_memory:{_rss_bytes()}"],
        "persistence": [
            "loading:0", f"rdb_changes_since_last_save:{ks.dirty}",
            f"rdb_bgsave_in_progress:{int('rdb' in eng.children.values())}",
            f"rdb_last_save_time:{eng.last_save_time}",
            f"aof_enabled:{int(aof is not None)}",
            f"aof_rewrite_in_progress:{int('aof' in eng.children.values())}",
            f"aof_current_size:{aof.size if aof else 0}",
            f"aof_fsync_count:{aof.fsyncs if aof else 0}"],
        "stats": [f"total_connections_received:{eng.stats['total_connections_received']}",
                  f"total_commands_processed:{eng.commands_processed}",
                  f"expired_keys:{ks.expired_keys}",
                  f"sync_full:{eng.master.sync_full}",
                  f"sync_partial_ok:{eng.master.sync_partial_ok}",
                  f"sync_partial_err:{eng.master.sync_partial_err}",
                  f"pubsub_channels:{len(eng.pubsub.channels)}",
                  f"pubsub_patterns:{len(eng.pubsub.patterns)}"],
        "replication": repl,
        "keyspace": ([f"db0:keys={len(ks.data)},expires={len(ks.expires)},avg_ttl=0"]
                     if ks.data else []),
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
    wanted = [a.decode("utf-8", "replace").lower() for a in argv[1:]]
    if not wanted or any(w in ("all", "everything", "default") for w in wanted):
        wanted = list(sections)
    text = []
    for name in wanted:
        if name in sections:
            text.append(f"# {name.capitalize()}\r\n" + "".join(
                line + "\r\n" for line in sections[name]))
    return resp.bulk("\r\n".join(text).encode())


@command("save", 1, ADMIN)
def cmd_save(cl, argv):
    if cl.engine.children:
        return b"-ERR Background save already in progress\r\n"
    cl.engine.save()
    return resp.OK


@command("bgsave", -1, ADMIN)
def cmd_bgsave(cl, argv):
    if not cl.engine.bgsave():
        return b"-ERR Background save already in progress\r\n"
    return resp.simple("Background saving started")


@command("bgrewriteaof", 1, ADMIN)
def cmd_bgrewriteaof(cl, argv):
    eng = cl.engine
    if eng.aof is None:
        return b"-ERR Background append only file rewriting not possible: appendonly is off\r\n"
    if not eng.bgrewriteaof():
        return b"-ERR Background append only file rewriting already in progress\r\n"
    return resp.simple("Background append only file rewriting started")


@command("lastsave", 1)
def cmd_lastsave(cl, argv):
    return b":%d\r\n" % cl.engine.last_save_time


@command("replicaof", 3, ADMIN)
def cmd_replicaof(cl, argv):
    eng = cl.engine
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        eng.become_master()
        return resp.OK
    port = parse_int(argv[2])
    if port is None or not 0 < port < 65536:
        return b"-ERR Invalid master port\r\n"
    eng.become_replica(argv[1].decode(), port)
    return resp.OK


alias("slaveof", COMMANDS[b"replicaof"])
