"""The table of labs: number, project, package, notebook, the real system it is compared with.

One place that the command line (``python -m labsupport``), notebook 00 and the README's table
agree on. ``status`` is ``ready`` (implemented, tested, notebook executed), ``partial`` (works,
with named gaps in its notebook) or ``planned``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .measure.paths import REPO_DIR


@dataclass(frozen=True, slots=True)
class Lab:
    number: str  # "00".."15", the notebook's prefix
    slug: str  # notebook name after the number, and the tests' prefix
    title: str
    package: str | None  # labsupport subpackage holding the implementation
    peers: str  # the real system(s) it is measured against
    status: str  # ready | partial | planned
    test_prefixes: tuple[str, ...] = ()  # tests/test_<prefix>*.py (default: the package name)

    @property
    def notebook(self) -> Path:
        return REPO_DIR / "notebooks" / f"{self.number}_{self.slug}.ipynb"

    @property
    def tests(self) -> list[Path]:
        prefixes = self.test_prefixes or ((self.package,) if self.package else ())
        return sorted(p for prefix in prefixes for p in (REPO_DIR / "tests").glob(f"test_{prefix}*.py"))


LABS: tuple[Lab, ...] = (
    Lab("00", "start_here", "Start here: the instruments and the market data", "measure",
        "timeit, HdrHistogram, wrk2", "ready",
        test_prefixes=("measure", "marketdata")),
    Lab("01", "http_server", "HTTP/1.1 server from scratch with ASGI", "http",
        "uvicorn, FastAPI, Flask, aiohttp, wrk", "ready"),
    Lab("02", "order_book", "Limit order book and matching engine with PnL", "orderbook",
        "naive reference; exchange-core, Liquibook (published)", "ready"),
    Lab("03", "stream_processor", "Tick stream processor, exactly once", "stream",
        "raw pyzmq, Redis Streams, RabbitMQ; bytewax", "ready"),
    Lab("04", "mini_redis", "Mini Redis with TTL, persistence and replication", "kv",
        "Redis 7 (redis-server, redis-benchmark)", "ready"),
    Lab("05", "api_gateway", "Async API gateway", "gateway", "nginx, HAProxy, Envoy", "ready"),
    Lab("06", "risk_engine", "Real-time risk engine", "risk",
        "naive recomputation; published pre-trade risk gateways", "ready"),
    Lab("07", "rpc", "RPC framework with a gRPC-compatible transport", "rpc",
        "grpcio, JSON over HTTP", "ready"),
    Lab("08", "tick_store", "Time-series database for tick data", "tsdb",
        "SQLite, DuckDB, Parquet", "ready"),
    Lab("09", "tick_replay", "Tick replay engine", "replay", "tcpreplay; kdb+ replay", "ready"),
    Lab("10", "exchange", "Microservice exchange with a FIX gateway",
        "exchange", "the same services in one process (monolith); Docker", "ready"),
    Lab("11", "accelerated_engine", "Cython/Numba-accelerated matching engine", "fastbook",
        "pure-Python engine of lab 02; Liquibook, exchange-core (published)", "ready"),
    Lab("12", "backtester", "Distributed backtester on Dask", "backtest",
        "backtrader, backtesting.py, vectorbt; Ray", "ready"),
    Lab("13", "itch_fix", "NASDAQ ITCH 5.0 and FIX 4.4 parsers", "protocols",
        "simplefix; published C++/Rust ITCH parsers", "ready",
        test_prefixes=("protocols",)),
    Lab("14", "fault_tolerance", "Fault-tolerant trading workflow with a kill switch",
        "resilience", "Jepsen-style checking; exchange kill switches", "ready"),
    Lab("15", "clock_sync", "PTP-like clock synchronisation", "clocksync",
        "NTP-style algorithm; ptp4l, chrony", "ready"),
)


class UnknownLabError(KeyError):
    """Raised when a lab number or name does not match any lab in the table."""


def find_lab(key: str) -> Lab:
    """A lab by number (``"1"``, ``"01"``), slug, or package name."""
    key = key.strip().lower()
    for lab in LABS:
        if key in (lab.number, lab.number.lstrip("0") or "0", lab.slug, lab.package):
            return lab
    raise UnknownLabError(f"no lab {key!r}; `python -m labsupport list` shows them")
