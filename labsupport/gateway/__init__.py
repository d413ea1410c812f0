"""Lab 05: an async API gateway in front of pools of backends.

Sans-IO and clock-injected cores: ``config`` (the TOML file), ``balance`` (round robin,
least-conn, p2c, consistent hash), ``ratelimit`` (GCRA with nginx ``limit_req`` semantics, a
token bucket), ``cache`` (LRU with a byte budget, TTLs, request coalescing), ``health``
(circuit breaker and active-check state, retry budget), ``upstream`` (a streaming response
reader), ``forward`` (hop-by-hop rules). Around them: ``pool`` (keep-alive connection pools),
``proxy`` (the request path), ``app`` (serving, health checks, reload), ``backend`` (a demo
service), ``policies`` (the rate limit and cache replayed against nginx, HAProxy and Envoy
configured the same way), ``cpuload`` (which side of a benchmark run was busy).
``python -m labsupport.gateway --config gw.toml`` serves it.
"""

from .app import GatewayServer, check_server
from .balance import ConsistentHash, LeastConn, PowerOfTwo, RoundRobin, make_balancer
from .cache import Coalescer, ResponseCache, ttl_for
from .config import Config, load_config, parse_config
from .errors import (
    ClientAborted,
    ConfigError,
    ConnectFailed,
    GatewayError,
    UpstreamClosed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from .health import RetryBudget, ServerState
from .pool import ConnectionPool
from .proxy import METRICS_PATH, Gateway
from .ratelimit import Decision, Gcra, KeyedLimiter, TokenBucket
from .upstream import END, ResponseHead, ResponseStream

__all__ = [
    "END", "METRICS_PATH", "Backend", "ClientAborted", "Coalescer", "Config", "ConfigError", "ConnectFailed",
    "ConnectionPool", "ConsistentHash", "Decision", "Gateway", "GatewayError", "GatewayServer",
    "Gcra", "KeyedLimiter", "LeastConn", "PowerOfTwo", "ResponseCache", "ResponseHead",
    "ResponseStream", "RetryBudget", "RoundRobin", "ServerState", "TokenBucket", "UpstreamClosed",
    "UpstreamError", "UpstreamProtocolError", "UpstreamTimeout", "check_server", "load_config",
    "make_balancer", "parse_config", "ttl_for",
]


def __getattr__(name: str):
    # The demo backend is also a command (`python -m labsupport.gateway.backend`): importing it
    # here eagerly would make runpy warn that the module was imported before it ran.
    if name == "Backend":
        from .backend import Backend

        return Backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
