"""One real round trip through each broker and proxy: what works on this machine, or why not.

:func:`smoke_all` starts each of redis-server, rabbitmq-server, nginx and haproxy in turn on a
free port (through :mod:`.brokers` and :mod:`.httpproxies`), does one exchange with its real
client (redis-py, pika, an HTTP GET through the proxy to ``backend``), stops it, and returns one
row per program: what was exchanged, or ``skipped:`` with the package to install (the program
or its Python client is absent). The notebook tour and a lab's set-up check call it.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from .brokers import BrokerUnavailable, rabbitmq, redis
from .httpproxies import Backend, haproxy, nginx


def _redis() -> str:
    try:
        import redis as redis_py
    except ImportError:
        return "skipped: pip install redis"
    with redis() as broker:
        client = redis_py.Redis(host=broker.host, port=broker.port, socket_timeout=5)
        client.set("greeting", "hello")
        got = client.get("greeting")
        client.close()
    return f"SET/GET with redis-py: {got!r}"


def _rabbitmq() -> str:
    try:
        import pika
    except ImportError:
        return "skipped: pip install pika"
    with rabbitmq() as broker:
        conn = pika.BlockingConnection(pika.ConnectionParameters(broker.host, broker.port))
        try:
            ch = conn.channel()
            ch.queue_declare("tour")
            ch.basic_publish("", "tour", b"hello")
            _, _, body = ch.basic_get("tour", auto_ack=True)
        finally:
            conn.close()
    return f"publish/get with pika: {body!r}"


def _through(make: Callable[..., object], backend: Backend, path: str) -> Callable[[], str]:
    def run() -> str:
        with make([backend]) as proxy:  # type: ignore[attr-defined]
            url = f"http://127.0.0.1:{proxy.port}{path}"  # type: ignore[attr-defined]
            body = urllib.request.urlopen(url, timeout=5).read()
        return f"GET {path} through it: {body!r}"

    return run


def smoke_all(backend: Backend, path: str = "/echo/hello") -> list[dict[str, str]]:
    """One row per program: ``{"program", "result"}``; absent ones say what to install."""
    checks = [("redis-server", _redis), ("rabbitmq-server", _rabbitmq),
              ("nginx", _through(nginx, backend, path)),
              ("haproxy", _through(haproxy, backend, path))]
    rows = []
    for program, check in checks:
        try:
            result = check()
        except BrokerUnavailable as exc:
            result = f"skipped: {exc}"
        rows.append({"program": program, "result": result})
    return rows
