"""The gateway's configuration: a TOML file read into frozen dataclasses, checked key by key.

The shape (one ``[listen]`` table, ``[[upstream]]`` pools, ``[[route]]`` entries)::

    [listen]
    host = "127.0.0.1"
    port = 8080

    [[upstream]]
    name = "quotes"
    servers = ["127.0.0.1:9001", "127.0.0.1:9002"]
    balance = "round_robin"          # round_robin | least_conn | p2c | hash
    hash_key = "ip"                  # for hash: ip | header:NAME
    health_path = "/health"
    health_interval_s = 1.0
    connect_timeout_s = 1.0
    read_timeout_s = 5.0
    retries = 2

    [[route]]
    prefix = "/quotes"
    upstream = "quotes"
    host = "api.example"             # optional: only requests with this Host
    cache_ttl_s = 1.0
    rate_limit = { rate_per_s = 100, burst = 20, key = "ip" }

Every check raises ``ConfigError`` whose message starts with the key at fault
(``upstream[0].balance: 'random' is not one of ...``), so a learner fixes the right line.
Unknown keys are errors too: a misspelt ``read_timout_s`` silently ignored would be a
timeout that never applies. Optional keys (``max_connections``, ``eject_after``, ``eject_s``,
``health_threshold``, ``retry_budget``, ``queue_timeout_s``, ``cache_headers``,
``[cache] max_bytes``) have the
defaults below.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["BALANCES", "Config", "Listen", "RateLimitSpec", "RouteSpec", "UpstreamSpec",
           "load_config", "parse_config"]

BALANCES = ("round_robin", "least_conn", "p2c", "hash")


@dataclass(frozen=True, slots=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    name: str
    servers: tuple[tuple[str, int], ...]
    balance: str = "round_robin"
    hash_key: str = "ip"
    health_path: str | None = None
    health_interval_s: float = 1.0
    health_threshold: int = 2  # consecutive results that flip a server's active state
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 5.0
    retries: int = 1
    retry_budget: float = 0.2  # retries may add at most this fraction of the requests
    max_connections: int = 64  # per server
    queue_timeout_s: float = 30.0  # longest wait for a free connection (then 503)
    eject_after: int = 5  # consecutive failures that open a server's circuit
    eject_s: float = 5.0  # how long it stays open before a trial request


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    rate_per_s: float
    burst: int = 0
    key: str = "ip"  # ip | header:NAME


@dataclass(frozen=True, slots=True)
class RouteSpec:
    prefix: str
    upstream: str
    host: str | None = None
    cache_ttl_s: float = 0.0
    cache_headers: tuple[str, ...] = ()
    rate_limit: RateLimitSpec | None = None


@dataclass(frozen=True, slots=True)
class Config:
    listen: Listen
    upstreams: tuple[UpstreamSpec, ...]
    routes: tuple[RouteSpec, ...]
    cache_max_bytes: int = 64 << 20
    source: str = "<string>"
    upstream_by_name: dict[str, UpstreamSpec] = field(default_factory=dict, compare=False)


def load_config(path: str | Path) -> Config:
    """Read and check a TOML file (``OSError`` when unreadable, ``ConfigError`` when wrong)."""
    text = Path(path).read_text()
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<string>") -> Config:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _build(doc, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _build(doc: dict[str, Any], source: str) -> Config:
    _only(doc, "", {"listen", "upstream", "route", "cache"})
    lt = _table(doc, "listen", "listen")
    _only(lt, "listen", {"host", "port"})
    listen = Listen(_get(lt, "listen", "host", str, "127.0.0.1"),
                    _get(lt, "listen", "port", int, 8080))
    if not 0 <= listen.port <= 65535:
        raise ConfigError(f"listen.port: {listen.port} is not a port (0-65535)")
    ups = [_upstream(u, f"upstream[{i}]") for i, u in enumerate(_array(doc, "upstream"))]
    if not ups:
        raise ConfigError("upstream: at least one [[upstream]] is required")
    by_name: dict[str, UpstreamSpec] = {}
    for i, u in enumerate(ups):
        if u.name in by_name:
            raise ConfigError(f"upstream[{i}].name: {u.name!r} is defined twice")
        by_name[u.name] = u
    routes = [_route(r, f"route[{i}]", by_name) for i, r in enumerate(_array(doc, "route"))]
    if not routes:
        raise ConfigError("route: at least one [[route]] is required")
    ct = _table(doc, "cache", "cache")
    _only(ct, "cache", {"max_bytes"})
    max_bytes = _get(ct, "cache", "max_bytes", int, 64 << 20)
    return Config(listen, tuple(ups), tuple(routes), max_bytes, source, by_name)


def _upstream(t: Any, where: str) -> UpstreamSpec:
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: must be a table")
    _only(t, where, set(UpstreamSpec.__slots__))
    name = _get(t, where, "name", str)
    servers_raw = _get(t, where, "servers", list)
    if not servers_raw:
        raise ConfigError(f"{where}.servers: must list at least one HOST:PORT")
    servers = tuple(_address(s, f"{where}.servers[{i}]") for i, s in enumerate(servers_raw))
    balance = _get(t, where, "balance", str, "round_robin")
    if balance not in BALANCES:
        raise ConfigError(f"{where}.balance: {balance!r} is not one of {', '.join(BALANCES)}")
    spec = UpstreamSpec(
        name, servers, balance, _key(t, where, "hash_key"),
        _get(t, where, "health_path", str, None),
        _positive(t, where, "health_interval_s", 1.0),
        _get(t, where, "health_threshold", int, 2),
        _positive(t, where, "connect_timeout_s", 1.0),
        _positive(t, where, "read_timeout_s", 5.0),
        _get(t, where, "retries", int, 1),
        _get(t, where, "retry_budget", float, 0.2),
        _get(t, where, "max_connections", int, 64),
        _positive(t, where, "queue_timeout_s", 30.0),
        _get(t, where, "eject_after", int, 5),
        _positive(t, where, "eject_s", 5.0))
    for key in ("retries", "health_threshold", "max_connections", "eject_after"):
        low = 0 if key == "retries" else 1
        if getattr(spec, key) < low:
            raise ConfigError(f"{where}.{key}: must be >= {low}")
    if spec.health_path is not None and not spec.health_path.startswith("/"):
        raise ConfigError(f"{where}.health_path: {spec.health_path!r} must start with /")
    return spec


def _route(t: Any, where: str, upstreams: dict[str, UpstreamSpec]) -> RouteSpec:
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: must be a table")
    _only(t, where, {"prefix", "upstream", "host", "cache_ttl_s", "cache_headers", "rate_limit"})
    prefix = _get(t, where, "prefix", str)
    if not prefix.startswith("/"):
        raise ConfigError(f"{where}.prefix: {prefix!r} must start with /")
    upstream = _get(t, where, "upstream", str)
    if upstream not in upstreams:
        raise ConfigError(f"{where}.upstream: no [[upstream]] named {upstream!r}")
    ttl = _get(t, where, "cache_ttl_s", float, 0.0)
    if ttl < 0:
        raise ConfigError(f"{where}.cache_ttl_s: must be >= 0")
    headers = tuple(h.lower() for h in _get(t, where, "cache_headers", list, []))
    limit = None
    if "rate_limit" in t:
        rl = t["rate_limit"]
        rw = f"{where}.rate_limit"
        if not isinstance(rl, dict):
            raise ConfigError(f"{rw}: must be a table {{ rate_per_s, burst, key }}")
        _only(rl, rw, {"rate_per_s", "burst", "key"})
        limit = RateLimitSpec(_positive(rl, rw, "rate_per_s", None), _get(rl, rw, "burst", int, 0),
                              _key(rl, rw, "key"))
        if limit.burst < 0:
            raise ConfigError(f"{rw}.burst: must be >= 0")
    return RouteSpec(prefix, upstream, _get(t, where, "host", str, None), ttl, headers, limit)


# -- small checkers -------------------------------------------------------------------------
def _only(t: dict[str, Any], where: str, allowed: set[str]) -> None:
    for key in t:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"{name}: unknown key (known: {', '.join(sorted(allowed))})")


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    t = doc.get(key, {})
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: must be a table")
    return t


def _array(doc: dict[str, Any], key: str) -> list[Any]:
    a = doc.get(key, [])
    if not isinstance(a, list):
        raise ConfigError(f"{key}: must be an array of tables ([[{key}]])")
    return a


_MISSING = object()


def _get(t: dict[str, Any], where: str, key: str, kind: type, default: Any = _MISSING) -> Any:
    if key not in t:
        if default is _MISSING:
            raise ConfigError(f"{where}.{key}: required")
        return default
    value = t[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key}: {value!r} is not a {kind.__name__}")
    return value


def _positive(t: dict[str, Any], where: str, key: str, default: Any) -> float:
    value = _get(t, where, key, float, _MISSING if default is None else default)
    if value <= 0:
        raise ConfigError(f"{where}.{key}: must be > 0, not {value!r}")
    return value


def _key(t: dict[str, Any], where: str, key: str) -> str:
    value = _get(t, where, key, str, "ip")
    if value != "ip" and not (value.startswith("header:") and len(value) > 7):
        raise ConfigError(f"{where}.{key}: {value!r} is not 'ip' or 'header:NAME'")
    return value.lower()


def _address(value: Any, where: str) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{where}: {value!r} is not HOST:PORT")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) <= 65535 or not host:
        raise ConfigError(f"{where}: {value!r} is not HOST:PORT")
    return host, int(port)
