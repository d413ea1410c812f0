"""Glob patterns: Redis's semantics case by case, against a transcription of Redis's matcher on
random small inputs, adversarial patterns in polynomial time, and a real server that stays
responsive (PING, SIGTERM) after the KEYS pattern that used to hang it."""

from __future__ import annotations

import random
import signal
import time

import pytest

from labsupport.kv import glob
from labsupport.kv.engine import Engine
from labsupport.kv.launch import RawClient, kv_process


def redis_stringmatch(p: bytes, s: bytes) -> bool:
    """Redis's ``stringmatchlen`` transcribed line by line (without its 7.0.9 pruning, so it
    is exponential): the reference every matcher here is compared with, on tiny inputs."""

    def at(b: bytes, i: int) -> int:
        return b[i] if i < len(b) else 0          # C strings end with NUL

    def rec(pi: int, si: int) -> bool:
        plen, slen = len(p) - pi, len(s) - si
        while plen and slen:
            c = p[pi]
            if c == 42:                            # *
                while plen and at(p, pi + 1) == 42:
                    pi += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if rec(pi + 1, si):
                        return True
                    si += 1
                    slen -= 1
                return False
            elif c == 63:                          # ?
                si += 1
                slen -= 1
            elif c == 91:                          # [
                pi += 1
                plen -= 1
                neg = at(p, pi) == 94
                if neg:
                    pi += 1
                    plen -= 1
                m = False
                while True:
                    if at(p, pi) == 92 and plen >= 2:
                        pi += 1
                        plen -= 1
                        m |= p[pi] == s[si]
                    elif at(p, pi) == 93:
                        break
                    elif plen == 0:
                        pi -= 1
                        plen += 1
                        break
                    elif plen >= 3 and p[pi + 1] == 45:
                        lo, hi = sorted((p[pi], p[pi + 2]))
                        pi += 2
                        plen -= 2
                        m |= lo <= s[si] <= hi
                    else:
                        m |= p[pi] == s[si]
                    pi += 1
                    plen -= 1
                if neg:
                    m = not m
                if not m:
                    return False
                si += 1
                slen -= 1
            else:
                if c == 92 and plen >= 2:          # \x
                    pi += 1
                    plen -= 1
                if p[pi] != s[si]:
                    return False
                si += 1
                slen -= 1
            pi += 1
            plen -= 1
            if slen == 0:
                while at(p, pi) == 42:
                    pi += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return rec(0, 0)


MATCHERS = {"compiled": glob.match, "linear": glob.match_linear,
            "long": lambda p, s: glob.LongGlob(p, glob.parse(p)).fullmatch(s),
            "backtracking": glob.match_backtracking}

CASES = [  # pattern, string, Redis's answer
    (b"*", b"anything", True), (b"*", b"", False), (b"", b"", True), (b"", b"a", False),
    (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False), (b"h*llo", b"hllo", True),
    (b"h*llo", b"heeeello", True), (b"h[ae]llo", b"hallo", True), (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True), (b"h[^e]llo", b"hello", False), (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hallo", True), (b"h[a-b]llo", b"hcllo", False), (b"h\\*llo", b"h*llo", True),
    (b"h\\*llo", b"hello", False), (b"[\\]]", b"]", True), (b"[]", b"a", False),
    (b"[^]", b"a", True), (b"[abc", b"b", True), (b"[abc", b"bc", False), (b"a[", b"a", False),
    (b"[a-]x]", b"]", True), (b"[a-]x]", b"x", True), (b"\\", b"\\", True),
    (b"a*", b"a", True), (b"a**", b"a", True), (b"**", b"", False), (b"*a*", b"bab", True),
    (b"user:*:name", b"user:42:name", True), (b"user:*:name", b"user:42:mail", False),
    (b"?", b"\n", True), (b"*b", b"a\nb", True), (b"a*a*a*b", b"aaaaab", True),
    (b"a*a*a*b", b"aaaaa", False), (b"[^a-z]*", b"Abc", True), (b"*.", b"x.", True),
]


@pytest.mark.parametrize("name", MATCHERS)
@pytest.mark.parametrize(("pattern", "s", "expected"), CASES)
def test_redis_glob_table(name, pattern, s, expected):
    assert redis_stringmatch(pattern, s) is expected, "the table itself disagrees with Redis"
    assert MATCHERS[name](pattern, s) is expected


@pytest.mark.parametrize("name", MATCHERS)
def test_matchers_agree_with_redis_on_random_small_inputs(name):
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    alphabet = b"ab*?[]^-\\c"
    for _ in range(4000):
        p = bytes(rng.choice(alphabet) for _ in range(rng.randrange(7)))
        s = bytes(rng.choice(b"ab]-c\\*") for _ in range(rng.randrange(6)))
        assert MATCHERS[name](p, s) == redis_stringmatch(p, s), (p, s, seed)


ADVERSARIAL = [
    (b"a*" * 20 + b"b", b"a" * 40),
    (b"*a" * 30 + b"*b", b"a" * 200),
    (b"*?" * 50 + b"x", b"y" * 500),
    (b"[a-z]*" * 40 + b"!", b"abc" * 300),
    (b"*" + b"a*" * 200 + b"b", b"a" * 5000),
]


@pytest.mark.parametrize(("pattern", "s"), ADVERSARIAL)
@pytest.mark.parametrize("name", ["compiled", "linear", "long"])
def test_adversarial_patterns_finish_fast(name, pattern, s):
    t0 = time.perf_counter()
    assert MATCHERS[name](pattern, s) is False
    assert time.perf_counter() - t0 < 1.0   # a "does not hang" bound: exponential takes ages


@pytest.mark.parametrize(("unit", "subject"), [
    (b"[^a]", b"b" * 100_000), (b"*[a-c]", b"d" * 100_000), (b"?*", b"b" * 15_999),
    (b"\\*a*", b"*a" * 50_000 + b"b")])
def test_a_long_pattern_compiles_and_matches_fast(unit, subject):
    pattern = unit * 16_000                          # 32-64 KB: Redis's inline request limit
    t0 = time.perf_counter()
    rx = glob.compile(pattern)
    assert isinstance(rx, glob.LongGlob)             # no 16,000-token regex is compiled
    assert rx.fullmatch(subject) is (unit == b"\\*a*")
    assert time.perf_counter() - t0 < 5.0            # does not hang: parse is linear
    short = unit * 8
    assert bool(glob.compile(short).fullmatch(b"b" * 8)) == glob.match_backtracking(short,
                                                                                     b"b" * 8)


def test_keys_scan_and_psubscribe_use_the_bounded_matcher():
    eng = Engine()
    for k in (b"a" * 40, b"a" * 39 + b"b", b""):
        eng.apply([b"SET", k, b"v"])
    pattern = b"a*" * 20 + b"b"
    t0 = time.perf_counter()
    assert eng.apply([b"KEYS", pattern]) == b"*1\r\n$40\r\n" + b"a" * 39 + b"b\r\n"
    reply = eng.apply([b"SCAN", b"0", b"MATCH", pattern, b"COUNT", b"100"])
    assert reply.endswith(b"*1\r\n$40\r\n" + b"a" * 39 + b"b\r\n")
    assert eng.pubsub.publish(b"a" * 40, b"m") == 0
    assert time.perf_counter() - t0 < 1.0
    assert eng.apply([b"KEYS", b"*"]).startswith(b"*3\r\n")   # "*" alone: every key, "" too


def test_real_server_answers_ping_and_sigterm_after_the_adversarial_keys(tmp_path):
    with kv_process(str(tmp_path)) as srv, RawClient(srv.port, timeout_s=10) as c:
        c.call("SET", "a" * 40, "v")
        assert c.call("KEYS", "a*" * 20 + "b") == []
        assert c.call("PING") == "PONG"
        c.send_raw(b"*2\r\n$4\r\nKEYS\r\n$41\r\n" + b"a*" * 20 + b"b\r\n")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(10) == 0
        assert time.monotonic() - t0 < 10
        assert "kv: stopped" in srv.log_text()


def test_sigterm_during_a_long_command_stops_the_server_after_that_turn(tmp_path):
    with kv_process(str(tmp_path)) as srv, RawClient(srv.port, timeout_s=10) as c:
        if str(c.call("DEBUG", "SLEEP", "0")) != "OK":
            pytest.skip("DEBUG SLEEP is not available")
        c.send_raw(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n1.0\r\n")
        time.sleep(0.3)                              # the loop is inside DEBUG SLEEP now
        srv.proc.send_signal(signal.SIGTERM)
        assert c.read() == "OK"                      # the running command finishes, replies
        assert srv.proc.wait(10) == 0                # then the server stops
        assert "kv: stopped" in srv.log_text()
