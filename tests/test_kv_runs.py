"""Runs of one command shape (``FastCommandParser.feed_run`` + ``Engine.run_run``): the same
replies, keyspace, AOF and replication stream as the general per-command path."""

from __future__ import annotations

import pytest

from labsupport.kv import Config, Engine
from labsupport.kv.aof import read_commands
from labsupport.kv.fastpath import FastCommandParser
from labsupport.kv.resp import CommandParser, encode_command


def _engine(tmp_path, name, **kw):
    eng = Engine(Config(dir=str(tmp_path / name), **kw))
    eng.start()
    return eng


def _serve(eng, reads, use_runs):
    """Feed the reads as the server does; return what the client received."""
    got = []
    cl = eng.new_client(got.append)
    parser = FastCommandParser() if use_runs else CommandParser()   # general: no shortcut
    for read in reads:
        cmds = parser.feed_run(read) if use_runs else parser.feed(read)
        if type(cmds) is tuple:
            eng.run_run(cl, *cmds)
        elif cmds:
            eng.run_batch(cl, cmds)
    eng._commit()
    return b"".join(got)


def _reads():
    big = b"v" * 5000
    setup = [[b"SET", b"a", b"1"], [b"SET", b"big", big], [b"HSET", b"h", b"f", b"v"],
             [b"RPUSH", b"l", b"x"], [b"SET", b"empty", b""]]
    gets = [[b"GET", k] for k in (b"a", b"missing", b"h", b"big", b"l", b"empty", b"a")]
    sets = [[b"set", b"k%d" % i, b"val%d" % i] for i in range(16)] + [[b"SET", b"k1", b"last"]]
    wire = lambda cmds: b"".join(map(encode_command, cmds))  # noqa: E731
    return [wire(setup), wire(gets), wire(gets[:1]), wire(gets[1:2]), wire(gets[2:3]),
            wire(sets), wire(sets[:1]), wire([[b"GET", b"k1"]] * 3), wire([[b"GET", b"a", b"b"]] * 2),
            wire([[b"SET", b"a"]] * 2), wire([[b"INCR", b"n"]] * 4), wire([[b"DEL", b"a"]])]


@pytest.mark.parametrize("replicated", [False, True])
@pytest.mark.parametrize("appendonly", [False, True])
def test_runs_reply_and_log_like_the_general_path(tmp_path, appendonly, replicated):
    runs = _engine(tmp_path, "runs", appendonly=appendonly)
    plain = _engine(tmp_path, "plain", appendonly=appendonly)
    for eng in (runs, plain):
        eng.defer = lambda fn: None      # group commit: _serve commits at the end
        if replicated:
            eng.master.backlog = bytearray()  # a replication stream to compare too
    assert _serve(runs, _reads(), True) == _serve(plain, _reads(), False)
    assert runs.ks.data == plain.ks.data
    assert runs.master.backlog == plain.master.backlog
    assert runs.commands_processed == plain.commands_processed
    assert runs.ks.dirty == plain.ks.dirty
    runs.shutdown()
    plain.shutdown()
    if appendonly:
        assert ((tmp_path / "runs" / "appendonly.aof").read_bytes()
                == (tmp_path / "plain" / "appendonly.aof").read_bytes())


def test_set_run_is_logged_and_replies_held_until_commit(tmp_path):
    eng = _engine(tmp_path, "d", appendonly=True)
    queued = []
    eng.defer = queued.append
    got = []
    cl = eng.new_client(got.append)
    wire = b"".join(encode_command([b"SET", b"k%d" % i, b"v"]) for i in range(3))
    eng.run_run(cl, *FastCommandParser().feed_run(wire))
    assert got == [] and len(queued) == 1       # nothing acknowledged before the write
    queued[0]()
    assert got == [b"+OK\r\n" * 3]
    eng.shutdown()
    aof = (tmp_path / "d" / "appendonly.aof").read_bytes()
    assert aof.endswith(wire)                    # the run's record is the read itself
    before, _ = read_commands(aof[:-len(wire)])
    assert all(c[0] == b"SELECT" for c in before)   # at most the database it applies to


def test_runs_with_deadlines_take_the_general_path(tmp_path):
    eng = _engine(tmp_path, "e")
    now = [1_000_000]
    eng.ks.clock_ms = lambda: now[0]
    got = []
    cl = eng.new_client(got.append)
    eng.run_batch(cl, [[b"SET", b"t", b"x", b"PX", b"10"], [b"SET", b"u", b"y"]])
    now[0] += 11
    eng.run_run(cl, *FastCommandParser().feed_run(encode_command([b"GET", b"t"]) * 2))
    eng.run_run(cl, *FastCommandParser().feed_run(encode_command([b"SET", b"u", b"z"]) * 2))
    assert got[1:] == [b"$-1\r\n$-1\r\n", b"+OK\r\n+OK\r\n"]
    assert b"t" not in eng.ks.data and eng.ks.data[b"u"] == b"z"
