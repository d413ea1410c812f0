"""nginx and haproxy as reverse proxies in front of a lab's backends, for the gateway lab.

Each helper writes a minimal config file under the broker's private directory, listening on a
free loopback port and balancing round-robin over the given backends with keep-alive
connections to them, and runs the program in the foreground (``daemon off`` / ``-db``) under the
supervisor, so its workers are in its process group and stop with it. Nothing of the machine's
own configuration is read: nginx gets ``-p PREFIX -c CONF -e stderr`` (its temporary files and
pid under PREFIX), haproxy ``-f CONF``. Logs go to stderr, that is the service's log. Absent
programs raise :class:`~.brokers.BrokerUnavailable` naming ``nginx-light`` or ``haproxy``.

The configs are deliberately the plain, documented defaults of each (the comparison is of the
programs, not of tuning): nginx ``upstream`` with ``keepalive``, HTTP/1.1 to the backends;
haproxy ``mode http`` with ``http-reuse safe``. For the gateway lab's like-for-like comparison
nginx also takes the gateway's route settings: ``rate_limit=RateLimit(rate_per_s, burst, key)``
becomes ``limit_req_zone`` + ``limit_req burst=B nodelay`` answering 429 (the semantics the
gateway's GCRA follows), and ``cache_ttl_s`` becomes a ``proxy_cache`` under the prefix with
``proxy_cache_valid 200``, ``proxy_cache_lock on`` (request coalescing), the key
``$request_uri`` (HEAD served as GET) and ``X-Cache`` set from ``$upstream_cache_status``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from .brokers import Broker, _dirs, find_program
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


def _nginx_key(key: str) -> str:
    if key == "ip":
        return "$binary_remote_addr"
    if key.startswith("header:"):
        return "$http_" + key[7:].lower().replace("-", "_")
    raise ValueError(f"rate limit key {key!r} is not 'ip' or 'header:NAME'")


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


def haproxy_config(port: int | str, backends: Sequence[Backend]) -> str:
    """An haproxy.cfg proxying ``127.0.0.1:port`` to ``backends``."""
    servers = "\n".join(f"    server s{i} {h}:{p}" for i, (h, p) in enumerate(backends))
    return f"""global
    log stderr format short local0 warning
    maxconn 4096

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse safe

frontend lab
    bind {HOST}:{port}
    default_backend backends

backend backends
    balance roundrobin
{servers}
"""


def nginx_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "nginx",
                   rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0
                   ) -> list[ServiceSpec]:
    exe = find_program("nginx")
    conf = data_dir / "nginx.conf"
    # The port is only known at start time: write the config then, from a {port} template.
    template = data_dir / "nginx.conf.in"
    template.write_text(nginx_config("@PORT@", backends, data_dir, rate_limit=rate_limit,
                                     cache_ttl_s=cache_ttl_s))
    command = ("/bin/sh", "-c",
               f'sed "s/@PORT@/$1/" "{template}" > "{conf}" && '
               f'exec "{exe}" -p "{data_dir}" -c "{conf}" -e stderr', "nginx", "{port}")
    return [ServiceSpec(name, command, port="auto", ready=TcpProbe(), stop_grace_s=5)]


def haproxy_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "haproxy"
                     ) -> list[ServiceSpec]:
    exe = find_program("haproxy")
    conf = data_dir / "haproxy.cfg"
    template = data_dir / "haproxy.cfg.in"
    template.write_text(haproxy_config("@PORT@", backends))
    command = ("/bin/sh", "-c",
               f'sed "s/@PORT@/$1/" "{template}" > "{conf}" && exec "{exe}" -db -f "{conf}"',
               "haproxy", "{port}")
    return [ServiceSpec(name, command, port="auto", ready=TcpProbe(), stop_grace_s=5)]


def nginx(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None, *,
          rate_limit: RateLimit | None = None, cache_ttl_s: float = 0.0) -> Broker:
    """nginx on a free port in front of ``backends`` [(host, port), ...], started; with the
    gateway's ``rate_limit`` and ``cache_ttl_s`` when given (module docstring)."""
    run, data = _dirs("nginx", run_dir)
    services = nginx_services(backends, data, rate_limit=rate_limit, cache_ttl_s=cache_ttl_s)
    return Broker("nginx", services, run, data, "nginx").start()


def haproxy(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None
            ) -> Broker:
    """haproxy on a free port in front of ``backends`` [(host, port), ...], started."""
    run, data = _dirs("haproxy", run_dir)
    return Broker("haproxy", haproxy_services(backends, data), run, data, "haproxy").start()
