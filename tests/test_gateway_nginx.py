"""The gateway against nginx configured the same way (``httpproxies.nginx(rate_limit=...,
cache_ttl_s=...)``), in front of the same Lab 01 backends: both cache (MISS then HIT, HEAD
served from it with the GET's length), and both limit one recorded bursty trace to the same
429 count as the exact reference, over real sockets within a small tolerance."""

from __future__ import annotations

import httpx
import pytest

from labsupport.gateway import bench, policies
from labsupport.gateway.lab import run_sync
from labsupport.services.brokers import BrokerUnavailable
from labsupport.services.httpproxies import nginx, nginx_config

pytestmark = pytest.mark.timeout(120)


def test_nginx_config_carries_the_gateway_rate_limit_and_cache(tmp_path):
    text = nginx_config(8080, [("127.0.0.1", 1)], tmp_path, rate_limit=policies.LIMIT,
                        cache_ttl_s=60)
    assert "limit_req_zone $http_x_client zone=lab_rl:10m rate=200r/s;" in text
    assert "limit_req zone=lab_rl burst=20 nodelay;" in text and "limit_req_status 429;" in text
    assert "proxy_cache_valid 200 60s;" in text and "proxy_cache_lock on;" in text
    plain = nginx_config(8080, [("127.0.0.1", 1)], tmp_path)
    assert "limit_req" not in plain and "proxy_cache" not in plain


@pytest.fixture
def pair():
    """The gateway (cache + limit on its one route) and nginx with the same, same backends."""
    with bench.stack(cache=True, rate_limit=policies.LIMIT) as st:
        try:
            peer = nginx([("127.0.0.1", p) for p in st["backends"]], rate_limit=policies.LIMIT,
                         cache_ttl_s=bench.CACHE_TTL_S)
        except BrokerUnavailable as exc:
            pytest.skip(str(exc))
        try:
            yield {"gateway": st["gateway"], "nginx": peer.port}
        finally:
            peer.stop()


def test_both_cache_and_limit_the_same_trace_alike(pair):
    headers = {"x-client": "cache-probe"}
    for name, port in pair.items():
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            first, second = client.get("/hello", headers=headers), client.get("/hello", headers=headers)
            head = client.head("/hello", headers=headers)
        assert first.headers["x-cache"] == "MISS" and second.headers["x-cache"] == "HIT", name
        assert first.text == second.text and head.content == b""
        assert head.headers["content-length"] == str(len(second.content)), name

    times = policies.bursty_times(400, policies.LIMIT.rate_per_s, seed=11)
    for name, port in pair.items():
        statuses, sent = run_sync(policies.replay, port, times)
        reference = policies.reference_rejections(sent)  # on the times really sent
        print(f"{name}: {statuses[429]} 429s, the reference on its send times {reference}")
        assert set(statuses) <= {200, 429} and sum(statuses.values()) == len(times), name
        assert abs(statuses[429] - reference) <= 3 + 0.03 * reference, (name, statuses)
