"""Gateway cores without sockets: balancing, hashing, GCRA, cache, health, config, framing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass

import pytest

from labsupport.gateway import (
    END,
    Coalescer,
    ConfigError,
    ConsistentHash,
    Gcra,
    KeyedLimiter,
    LeastConn,
    PowerOfTwo,
    ResponseCache,
    ResponseHead,
    ResponseStream,
    RetryBudget,
    RoundRobin,
    ServerState,
    TokenBucket,
    UpstreamClosed,
    UpstreamProtocolError,
    parse_config,
    ttl_for,
)
from labsupport.gateway.forward import request_head, response_fields
from labsupport.gateway.ratelimit import nginx_limit_req
from labsupport.gateway.upstream import NEED_DATA


@dataclass
class S:
    name: str
    inflight: int = 0


def servers(n: int) -> list[S]:
    return [S(f"s{i}") for i in range(n)]


# -- balancing --------------------------------------------------------------------------------
def test_round_robin_is_exactly_even_and_in_order():
    pool = servers(3)
    rr = RoundRobin()
    picks = [rr.pick(pool).name for _ in range(9)]
    assert picks == ["s0", "s1", "s2"] * 3


def test_least_conn_picks_the_least_loaded_and_breaks_ties_round_robin():
    pool = servers(3)
    pool[0].inflight, pool[1].inflight, pool[2].inflight = 5, 1, 3
    lc = LeastConn()
    assert {lc.pick(pool).name for _ in range(6)} == {"s1"}
    for s in pool:
        s.inflight = 0
    assert Counter(lc.pick(pool).name for _ in range(30)) == {"s0": 10, "s1": 10, "s2": 10}


def _simulate(balancer, n_servers: int, steps: int, seed: int) -> Counter[str]:
    """Requests arrive one per step and each lasts 1-4 steps: load counts as in flight."""
    rng = random.Random(seed)
    pool = servers(n_servers)
    running: list[tuple[int, S]] = []
    picks: Counter[str] = Counter()
    for t in range(steps):
        for _end, s in [x for x in running if x[0] <= t]:
            s.inflight -= 1
        running = [x for x in running if x[0] > t]
        s = balancer.pick(pool)
        s.inflight += 1
        picks[s.name] += 1
        running.append((t + rng.randint(1, 4), s))
    return picks


@pytest.mark.parametrize("make", [LeastConn, lambda: PowerOfTwo(random.Random(7))],
                         ids=["least_conn", "p2c"])
def test_load_aware_policies_have_bounded_skew(make):
    seed = 11
    print("seed", seed)
    picks = _simulate(make(), 4, 4000, seed)
    assert sum(picks.values()) == 4000
    assert max(picks.values()) / min(picks.values()) < 1.2, picks


def test_p2c_avoids_a_loaded_server_and_draws_two_distinct():
    pool = servers(2)
    pool[0].inflight = 10
    p2c = PowerOfTwo(random.Random(1))
    assert {p2c.pick(pool).name for _ in range(50)} == {"s1"}  # two distinct: always both seen
    assert p2c.pick([pool[0]]).name == "s0" and p2c.pick([]) is None


def test_consistent_hash_spreads_keys_and_remaps_only_the_leavers_keys():
    ring = ConsistentHash()
    names = [f"10.0.0.{i}:80" for i in range(5)]
    for n in names:
        ring.add(n)
    keys = [f"client-{i}".encode() for i in range(20000)]
    before = {k: ring.owner(k) for k in keys}
    share = Counter(before.values())
    assert max(share.values()) / min(share.values()) < 1.6, share
    left = names[2]
    after = {k: ring.owner(k, set(names) - {left}) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == left for k in moved)  # only the leaver's keys move
    assert len(moved) == share[left]
    assert 0.12 < len(moved) / len(keys) < 0.28  # about 1/5
    back = {k: ring.owner(k) for k in keys}
    assert back == before  # it returns: every key goes home


def test_consistent_hash_pick_uses_available_servers_only():
    pool = servers(3)
    ring = ConsistentHash()
    owners = Counter(ring.pick(pool, b"k%d" % i).name for i in range(300))
    assert set(owners) == {"s0", "s1", "s2"}
    assert ring.pick(pool[:1], b"anything").name == "s0"
    assert ring.pick([], b"x") is None


# -- rate limiting ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_gcra_decisions_equal_nginx_limit_req_on_a_bursty_trace(seed):
    print("seed", seed)
    rng = random.Random(seed)
    t, times = 0, []
    for _ in range(3000):
        t += rng.choice([0, 0, 0, 0, 1, 1, 2, 5, 20, 50, 200, 700])  # bursts and gaps, in ms
        times.append(t)
    rate, burst = [(10, 5), (200, 1), (4, 0), (50, 1)][seed - 1]
    lim = KeyedLimiter(rate, burst, clock=lambda: 0.0)
    ours = [lim.allow(b"k", ms / 1000).allowed for ms in times]
    assert ours == nginx_limit_req(times, rate, burst)
    assert lim.allowed + lim.rejected == len(times) and lim.rejected > 0


def test_gcra_burst_then_one_per_interval_and_retry_after():
    now = [100.0]
    lim = KeyedLimiter(10, 3, clock=lambda: now[0])
    assert [lim.allow(b"a").allowed for _ in range(5)] == [True] * 4 + [False]
    d = lim.allow(b"a")
    assert not d.allowed and d.retry_after_s == pytest.approx(0.1)
    now[0] += 0.1
    assert lim.allow(b"a").allowed and not lim.allow(b"a").allowed
    assert lim.allow(b"b").allowed  # keys are independent


def test_keyed_limiter_forgets_the_least_recently_seen_key():
    lim = KeyedLimiter(1, 0, max_keys=2, clock=lambda: 0.0)
    lim.allow(b"a"), lim.allow(b"b"), lim.allow(b"a"), lim.allow(b"c")
    assert len(lim) == 2 and lim.evicted == 1
    assert lim.allow(b"b").allowed  # b was forgotten: lenient, never stricter
    assert not lim.allow(b"c").allowed


def test_token_bucket_matches_gcra_with_capacity_burst_plus_one():
    rng = random.Random(5)
    print("seed", 5)
    lim = KeyedLimiter(8, 4, clock=lambda: 0.0)
    bucket = TokenBucket(8, 5, now_s=0.0)
    t = 0
    for _ in range(2000):
        t += rng.choice([0, 1, 3, 125, 400]) * 1_000_000  # whole ms, exactly representable
        assert lim.allow(b"k", t / 1e9).allowed == bucket.allow(t / 1e9).allowed, t


def test_gcra_rejects_bad_parameters():
    with pytest.raises(ValueError):
        Gcra(0, 1)
    with pytest.raises(ValueError):
        Gcra(1, -1)


# -- cache ------------------------------------------------------------------------------------
def test_cache_hit_expiry_and_lru_byte_budget():
    now = [0.0]
    cache = ResponseCache(max_bytes=300, clock=lambda: now[0])
    assert cache.put("a", 200, (), b"x" * 100, ttl_s=10)
    assert cache.get("a").body == b"x" * 100 and cache.hits == 1
    assert cache.put("b", 200, (), b"y" * 100, 10)
    cache.get("a")  # a is now the most recent
    assert cache.put("c", 200, (), b"z" * 150, 10)  # evicts b (least recent), keeps a
    assert cache.get("b") is None and cache.get("a") is not None and cache.bytes <= 300
    now[0] = 10.0
    assert cache.get("a") is None and cache.get("c") is None  # expired at expiry exactly
    assert not cache.put("d", 404, (), b"", 10) and not cache.put("e", 200, (), b"", 0)
    assert not cache.put("f", 200, (), b"q" * 400, 10)  # over the whole budget


@pytest.mark.parametrize("field, route_ttl, want", [
    (None, 5.0, 5.0), (b"max-age=30", 5.0, 30.0), (b"public, s-maxage=7, max-age=30", 0, 7.0),
    (b"no-store", 5.0, 0.0), (b"private, max-age=60", 5.0, 0.0), (b"no-cache", 5.0, 0.0),
    (b"max-age=abc", 5.0, 0.0), (b"public", 2.0, 2.0)])
def test_ttl_from_route_and_cache_control(field, route_ttl, want):
    assert ttl_for(route_ttl, field) == want


def test_coalescer_runs_one_fetch_for_concurrent_callers():
    calls = []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.01)
        return "answer"

    async def main():
        co = Coalescer()
        results = await asyncio.gather(*(co.run("k", fetch) for _ in range(100)))
        return co, results

    co, results = asyncio.run(main())
    assert len(calls) == 1 and co.coalesced == 99
    assert [r for r, _ in results] == ["answer"] * 100
    assert sum(led for _, led in results) == 1


def test_coalescer_shares_an_exception():
    async def fetch():
        await asyncio.sleep(0.01)
        raise UpstreamClosed("gone")

    async def main():
        co = Coalescer()
        return await asyncio.gather(*(co.run("k", fetch) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, UpstreamClosed) for r in asyncio.run(main()))


# -- health -----------------------------------------------------------------------------------
def test_breaker_opens_after_consecutive_failures_then_half_open_trial():
    s = ServerState("h", 1, eject_after=3, eject_s=5.0)
    for _ in range(2):
        s.record_failure(0.0)
    s.record_success()  # not consecutive any more
    for _ in range(3):
        assert s.available(1.0)
        s.record_failure(1.0)
    assert s.breaker == "open" and s.ejections == 1 and not s.available(5.9)
    assert s.available(6.0) and s.breaker == "half_open"
    s.begin()
    assert not s.available(6.0)  # one trial at a time
    s.end()
    s.record_failure(6.0)  # the trial failed: open for twice as long
    assert not s.available(15.9) and s.available(16.0)
    s.begin(), s.end(), s.record_success()
    assert s.breaker == "closed" and s.available(16.0)


def test_active_checks_flip_after_threshold_results():
    s = ServerState("h", 1, threshold=2)
    s.record_check(False)
    assert s.available(0)
    s.record_check(False)
    assert not s.available(0)
    s.record_check(True)
    s.record_check(True)
    assert s.available(0)


def test_retry_budget_limits_retries_to_a_fraction_plus_a_floor():
    b = RetryBudget(ratio=0.1, min_per_s=0.0, cap=100.0)
    b.tokens = 0.0
    granted = 0
    for _ in range(1000):
        b.deposit(0.0)
        granted += b.try_spend()
    assert 99 <= granted <= 100 and b.denied >= 900
    b2 = RetryBudget(ratio=0.0, min_per_s=10.0, cap=5.0)
    b2.tokens = 0
    b2.deposit(10.0)  # ten quiet seconds: capped at 5
    assert sum(b2.try_spend() for _ in range(10)) == 5


# -- config -----------------------------------------------------------------------------------
GOOD = """
[listen]
host = "127.0.0.1"
port = 0
[[upstream]]
name = "quotes"
servers = ["127.0.0.1:9001", "127.0.0.1:9002"]
balance = "p2c"
health_path = "/health"
health_interval_s = 0.5
connect_timeout_s = 1
read_timeout_s = 2.5
retries = 2
[[route]]
prefix = "/quotes"
upstream = "quotes"
cache_ttl_s = 1.5
rate_limit = { rate_per_s = 100, burst = 20, key = "header:X-Client" }
"""


def test_config_parses_every_key_of_the_contract():
    cfg = parse_config(GOOD)
    up = cfg.upstreams[0]
    assert up.servers == (("127.0.0.1", 9001), ("127.0.0.1", 9002))
    assert (up.balance, up.health_path, up.health_interval_s, up.connect_timeout_s,
            up.read_timeout_s, up.retries) == ("p2c", "/health", 0.5, 1.0, 2.5, 2)
    route = cfg.routes[0]
    assert (route.prefix, route.upstream, route.cache_ttl_s) == ("/quotes", "quotes", 1.5)
    assert (route.rate_limit.rate_per_s, route.rate_limit.burst,
            route.rate_limit.key) == (100, 20, "header:x-client")


@pytest.mark.parametrize("change, key", [
    (('balance = "p2c"', 'balance = "random"'), "upstream[0].balance"),
    (('retries = 2', 'retries = -1'), "upstream[0].retries"),
    (('read_timeout_s = 2.5', 'read_timout_s = 2.5'), "upstream[0].read_timout_s"),
    (('"127.0.0.1:9002"', '"127.0.0.1"'), "upstream[0].servers[1]"),
    (('upstream = "quotes"\ncache', 'upstream = "nope"\ncache'), "route[0].upstream"),
    (('prefix = "/quotes"', 'prefix = "quotes"'), "route[0].prefix"),
    (('rate_per_s = 100', 'rate_per_s = 0'), "route[0].rate_limit.rate_per_s"),
    (('key = "header:X-Client"', 'key = "cookie"'), "route[0].rate_limit.key"),
    (('port = 0', 'port = 70000'), "listen.port"),
    (('port = 0', 'port = "x"'), "listen.port"),
    (('name = "quotes"', 'nam = "quotes"'), "upstream[0].nam"),
])
def test_config_errors_name_the_key(change, key):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD.replace(old, new, 1), source="gw.toml")
    assert str(err.value).startswith(f"gw.toml: {key}:"), str(err.value)


def test_config_rejects_bad_toml_and_empty_files():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[listen\n")
    with pytest.raises(ConfigError, match="upstream: at least one"):
        parse_config("")


# -- upstream response framing ----------------------------------------------------------------
def events(raw: bytes, *, head_only: bool = False, eof: bool = True, step: int = 0) -> list:
    rs = ResponseStream()
    rs.start(head_only)
    out = []
    pieces = [raw[i:i + step] for i in range(0, len(raw), step)] if step else [raw]
    for i, piece in enumerate(pieces):
        rs.feed(piece)
        if eof and i == len(pieces) - 1:
            rs.feed_eof()
        while (ev := rs.next_event()) is not NEED_DATA:
            out.append(ev)
            if ev is END:
                return out
    return out


def body_of(evs: list) -> bytes:
    return b"".join(e for e in evs if isinstance(e, bytes))


@pytest.mark.parametrize("step", [0, 1, 7])
@pytest.mark.parametrize("raw, status, body", [
    (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", 200, b"hello"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
     200, b"abcde"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nx-t: 1\r\n\r\n", 200, b"z"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, b""),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil close", 200, b"until close"),
])
def test_response_stream_frames_bodies(raw, status, body, step):
    evs = events(raw, step=step)
    assert isinstance(evs[0], ResponseHead) and evs[0].status == status
    assert body_of(evs) == body and evs[-1] is END


def test_response_stream_reuse_rules_and_head_only():
    rs = ResponseStream()
    rs.start()
    rs.feed(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    assert rs.next_event().keep_alive and rs.next_event() == b"ok" and rs.next_event() is END
    assert rs.reusable
    rs.start()
    rs.feed(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
    assert not rs.next_event().keep_alive and rs.next_event() is END and not rs.reusable
    evs = events(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n", head_only=True, eof=False)
    assert evs[-1] is END and body_of(evs) == b""


@pytest.mark.parametrize("raw, error", [
    (b"garbage\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 2000 OK\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\ncontent-type\r\n\r\n", UpstreamProtocolError),  # a known name, no colon
    # A bare LF or CR, or a NUL, in a field would reach the client as a forged field.
    (b"HTTP/1.1 200 OK\r\nx-a: 1\nset-cookie: s=1\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\nx-a: 1\rx\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\nx-a: 1\x00\r\n\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", UpstreamProtocolError),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", UpstreamClosed),
    (b"HTTP/1.1 200 O", UpstreamClosed),
])
def test_response_stream_errors(raw, error):
    with pytest.raises(error):
        events(raw)


# -- forwarding rules -------------------------------------------------------------------------
def test_request_head_drops_hop_by_hop_and_adds_proxy_fields():
    raw = request_head("GET", b"/a?b=1", [
        (b"host", b"api"), (b"connection", b"keep-alive, x-secret"), (b"x-secret", b"1"),
        (b"keep-alive", b"300"), (b"te", b"trailers"), (b"upgrade", b"h2c"),
        (b"x-forwarded-for", b"1.2.3.4"), (b"accept", b"*/*"), (b"content-length", b"0")],
        0, "127.0.0.1", b"rid-1")
    lines = raw.split(b"\r\n")
    assert lines[0] == b"GET /a?b=1 HTTP/1.1" and raw.endswith(b"\r\n\r\n")
    names = [line.split(b":")[0] for line in lines[1:] if line]
    assert names == [b"host", b"accept", b"x-forwarded-for", b"x-request-id", b"via"]
    assert b"x-forwarded-for: 1.2.3.4, 127.0.0.1" in lines and b"x-request-id: rid-1" in lines
    post = request_head("POST", b"/o", [(b"host", b"a")], 0, "::1", b"r")
    assert b"content-length: 0" in post.split(b"\r\n")
    streamed = request_head("PUT", b"/f", [(b"host", b"a"), (b"transfer-encoding", b"chunked")],
                            None, "::1", b"r").split(b"\r\n")  # a chunked body streamed on
    assert b"transfer-encoding: chunked" in streamed
    assert not any(line.startswith(b"content-length") for line in streamed)


def test_response_fields_keep_end_to_end_only():
    kept = response_fields([(b"content-type", b"a/b"), (b"connection", b"close, x-h"),
                            (b"x-h", b"1"), (b"transfer-encoding", b"chunked"),
                            (b"date", b"d"), (b"etag", b'"1"'), (b"cache-control", b"max-age=1")])
    assert kept == [(b"etag", b'"1"'), (b"cache-control", b"max-age=1")]


# -- cpuload: which side of a benchmark run was busy --------------------------------------------
def test_cpuload_limit_names_the_side_that_saturated():
    from labsupport.gateway.cpuload import limit

    assert limit({"server_pct": 97.0, "cpu0_pct": 99.0, "cpu1_pct": 99.0}, 0, 1) == "server"
    assert limit({"server_pct": 60.0, "cpu0_pct": 62.0, "cpu1_pct": 95.0}, 0, 1) == "load core"
    assert limit({"server_pct": 40.0, "cpu0_pct": 98.0, "cpu1_pct": 50.0}, 0, 1) == "server core"
    assert limit({"server_pct": 40.0, "cpu0_pct": 45.0, "cpu1_pct": 50.0}, 0, 1) == "neither"
    assert limit({"server_pct": None}, 0, 1) == "neither"  # no /proc: nothing claimed


def test_cpuwatch_window_ends_at_the_servers_last_working_sample():
    import subprocess
    import sys
    import time

    from labsupport.gateway.cpuload import CpuWatch

    busy_then_idle = ("import time\nend = time.process_time() + 0.3\n"
                      "while time.process_time() < end: pass\nprint('idle', flush=True)\n"
                      "time.sleep(60)\n")
    server = subprocess.Popen([sys.executable, "-c", busy_then_idle], stdout=subprocess.PIPE)
    try:
        with CpuWatch(server.pid, every_s=0.02) as watch:
            assert server.stdout.readline() == b"idle\n"
            time.sleep(0.6)
    finally:
        server.kill()
        server.wait()
    shares = watch.window(0.2)  # the last 0.2 s it worked, not its idle 0.6 s tail
    print(shares)
    assert shares["server_pct"] is not None and shares["server_pct"] > 10
    assert "cpu0_pct" in shares and all(0 <= v <= 100.5 for k, v in shares.items()
                                        if k != "server_pct")
