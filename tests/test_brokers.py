"""Real brokers and proxies started by the lab, used with their real clients, then gone.

redis-server with redis-py, RabbitMQ with pika, nginx and haproxy with curl and httpx in front
of two tiny backends. Each is skipped, with the Debian package to install, where absent.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.services import ServiceSpec, Supervisor, brokers, httpproxies
from labsupport.services.brokers import BrokerUnavailable
from labsupport.services.state import pid_alive

# A backend that answers every GET with its own name, so round-robin is visible.
NAMED_BACKEND = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        body = (sys.argv[2] + ' ' + self.path).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""


def start_or_skip(factory, *args):
    try:
        return factory(*args)
    except BrokerUnavailable as exc:
        pytest.skip(str(exc))


def group_pids(broker: brokers.Broker) -> list[int]:
    return [r["pid"] for r in broker.supervisor.status()]


# -- finding programs ------------------------------------------------------------------------
def test_availability_names_every_program_and_its_package() -> None:
    rows = {r["program"]: r for r in brokers.availability()}
    assert set(rows) == {"redis-server", "rabbitmq-server", "nginx", "haproxy"}
    for program, row in rows.items():
        if row["available"] == "no":
            assert row["note"] == f"skipped: apt-get install {brokers.PACKAGES[program]}"
        else:
            assert row["note"].startswith("/")


def test_an_absent_program_names_its_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brokers.shutil, "which", lambda *a, **k: None)
    with pytest.raises(BrokerUnavailable, match="nginx is not installed: apt-get install "
                                                "nginx-light"):
        brokers.find_program("nginx")
    with pytest.raises(BrokerUnavailable, match="apt-get install haproxy"):
        httpproxies.haproxy([("127.0.0.1", 1)])


# -- Redis -----------------------------------------------------------------------------------
def test_redis_with_redis_py_then_data_dir_removed(tmp_path: Path) -> None:
    redis = pytest.importorskip("redis")
    with start_or_skip(lambda: brokers.redis(tmp_path, appendonly=True)) as broker:
        client = redis.Redis(host=broker.host, port=broker.port, socket_timeout=5)
        client.set("book:AAPL", "101.25")
        client.rpush("fills", "a", "b")
        assert client.get("book:AAPL") == b"101.25" and client.lrange("fills", 0, -1) == [
            b"a", b"b"]
        assert broker.data_dir.is_dir() and broker.data_dir.is_relative_to(tmp_path)
        assert any(broker.data_dir.rglob("*.aof*"))  # its files really are in its own dir
        client.close()
        pids = group_pids(broker)
    assert not broker.data_dir.exists()
    assert not any(pid_alive(p) for p in pids)


# -- RabbitMQ --------------------------------------------------------------------------------
def test_rabbitmq_with_pika_then_data_dir_removed(tmp_path: Path) -> None:
    pika = pytest.importorskip("pika")
    with start_or_skip(lambda: brokers.rabbitmq(tmp_path)) as broker:
        sup = broker.supervisor
        assert sup.port("rabbitmq-epmd") != 4369  # its own port mapper, not the machine's
        params = pika.ConnectionParameters(broker.host, broker.port, socket_timeout=10)
        conn = pika.BlockingConnection(params)
        try:
            ch = conn.channel()
            ch.queue_declare("orders", durable=False)
            for i in range(3):
                ch.basic_publish("", "orders", f"order {i}".encode())
            got = []
            for _ in range(3):
                _method, _props, body = ch.basic_get("orders", auto_ack=True)
                got.append(body)
            assert got == [b"order 0", b"order 1", b"order 2"]
        finally:
            conn.close()
        assert (broker.data_dir / "mnesia").is_dir()
        assert "Server startup complete" in sup.logs("rabbitmq", 200)
        pids = group_pids(broker)
    assert not broker.data_dir.exists()
    assert not any(pid_alive(p) for p in pids)


# -- nginx and haproxy -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_backends(tmp_path_factory: pytest.TempPathFactory):
    specs = [ServiceSpec(f"b{i}", (sys.executable, "-c", NAMED_BACKEND, "{port}", f"b{i}"),
                         port="auto") for i in (1, 2)]
    with Supervisor(specs, run_dir=tmp_path_factory.mktemp("backends")) as sup:
        yield [("127.0.0.1", sup.port("b1")), ("127.0.0.1", sup.port("b2"))]


@pytest.mark.parametrize("factory", [httpproxies.nginx, httpproxies.haproxy],
                         ids=["nginx", "haproxy"])
def test_http_proxy_in_front_of_two_backends(factory, two_backends, tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx")
    with start_or_skip(factory, two_backends, tmp_path) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        with httpx.Client(timeout=5) as client:
            bodies = [client.get(f"{url}/quote/{i}").text for i in range(6)]
        assert {b.split()[0] for b in bodies} == {"b1", "b2"}  # round robin over both
        assert [b.split()[1] for b in bodies] == [f"/quote/{i}" for i in range(6)]
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-sS", "--max-time", "5", f"{url}/curl"],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0 and out.stdout.endswith(" /curl"), out.stderr
        assert proxy.data_dir.is_dir()
        pids = group_pids(proxy)
    assert not proxy.data_dir.exists()
    assert not any(pid_alive(p) for p in pids)


def test_smoke_all_reports_absent_programs_with_their_package(monkeypatch) -> None:
    from labsupport.services import smoke

    def absent(program: str) -> str:
        raise BrokerUnavailable(f"{program} is not installed: apt-get install "
                                f"{brokers.PACKAGES[program]}")

    monkeypatch.setattr(brokers, "find_program", absent)
    monkeypatch.setattr(httpproxies, "find_program", absent)
    rows = smoke.smoke_all(("127.0.0.1", 1))
    assert [r["program"] for r in rows] == ["redis-server", "rabbitmq-server", "nginx", "haproxy"]
    assert rows[2]["result"] == "skipped: nginx is not installed: apt-get install nginx-light"
    assert all(r["result"].startswith("skipped: ") for r in rows)


@pytest.mark.slow
def test_two_rabbitmq_nodes_at_once_are_separate(tmp_path: Path) -> None:
    # What parallel test workers do: two private nodes, each with its own port mapper and data.
    pika = pytest.importorskip("pika")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_or_skip, brokers.rabbitmq, tmp_path / f"n{i}")
                   for i in (0, 1)]
        nodes = [f.result() for f in futures]
    try:
        assert len({n.port for n in nodes}) == 2
        assert len({n.supervisor.port("rabbitmq-epmd") for n in nodes}) == 2
        for i, node in enumerate(nodes):
            conn = pika.BlockingConnection(pika.ConnectionParameters(node.host, node.port))
            ch = conn.channel()
            ch.queue_declare(f"only-on-{i}")
            ch.basic_publish("", f"only-on-{i}", b"x")
            conn.close()
        conn = pika.BlockingConnection(pika.ConnectionParameters(nodes[1].host, nodes[1].port))
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            ch.queue_declare("only-on-0", passive=True)  # node 1 never heard of node 0's queue
        conn.close()
    finally:
        for node in nodes:
            node.stop()
    assert not any(n.data_dir.exists() for n in nodes)
