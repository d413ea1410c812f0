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
haproxy ``mode http`` with ``http-reuse safe``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .brokers import Broker, _dirs, find_program
from .spec import HOST, ServiceSpec, TcpProbe

Backend = tuple[str, int]


def nginx_config(port: int | str, backends: Sequence[Backend], prefix: Path) -> str:
    """An nginx.conf proxying ``127.0.0.1:port`` to ``backends``."""
    servers = "\n".join(f"        server {h}:{p};" for h, p in backends)
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
    upstream backends {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
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


def nginx_services(backends: Sequence[Backend], data_dir: Path, *, name: str = "nginx"
                   ) -> list[ServiceSpec]:
    exe = find_program("nginx")
    conf = data_dir / "nginx.conf"
    # The port is only known at start time: write the config then, from a {port} template.
    template = data_dir / "nginx.conf.in"
    template.write_text(nginx_config("@PORT@", backends, data_dir))
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


def nginx(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None) -> Broker:
    """nginx on a free port in front of ``backends`` [(host, port), ...], started."""
    run, data = _dirs("nginx", run_dir)
    return Broker("nginx", nginx_services(backends, data), run, data, "nginx").start()


def haproxy(backends: Sequence[Backend], run_dir: str | os.PathLike[str] | None = None
            ) -> Broker:
    """haproxy on a free port in front of ``backends`` [(host, port), ...], started."""
    run, data = _dirs("haproxy", run_dir)
    return Broker("haproxy", haproxy_services(backends, data), run, data, "haproxy").start()
