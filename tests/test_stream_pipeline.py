"""Lab 03 end to end: every available transport into the tick store, exactly once.

One suite parametrized over the transports (ZeroMQ always; Redis and RabbitMQ on real servers
the lab starts, skipped with the reason if the program is missing). For each: the store holds
exactly the reference's accepted ticks and ``dead_letters.csv`` exactly its rejects; a second
run adds nothing; a worker killed with SIGKILL mid-stream is replaced and nothing is lost or
duplicated; a Redis server and a RabbitMQ node killed with SIGKILL and restarted mid-stream
(by their supervisor's restart policy, on the same port) are reconnected to, with the same
result. One RabbitMQ node serves the whole module (a boot takes ~10 s on 2 cores): the
restart test kills that node, last.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from labsupport.services import brokers as frame
from labsupport.services.spec import RestartPolicy
from labsupport.services.supervisor import Supervisor
from labsupport.stream import Pipeline, StreamSink, TickSource, TransportSpec, run_pipeline, verify
from labsupport.stream.brokers import url_of
from labsupport.stream.clean import partition_of
from labsupport.stream.gen import write_ticks
from labsupport.stream.sink import Delivery
from labsupport.stream.vector import clean_batch

SEED = 3


@pytest.fixture(scope="module")
def ticks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "ticks.csv"
    print(f"seed={SEED}")
    write_ticks(path, 4000, symbols=6, dirt=0.06, seed=SEED)
    return path


@pytest.fixture(scope="module")
def want(ticks: Path):
    return verify.expected(ticks)


def supervised(kind: str, specs, run_dir: Path) -> Supervisor:
    """``specs`` under a supervisor that restarts ``kind`` when it dies (same port, same data)."""
    specs = [replace(s, restart=RestartPolicy("on-failure", backoff_s=0.2))
             if s.name == kind else s for s in specs]
    return Supervisor(specs, run_dir=run_dir, name=kind)


def url_for(kind: str, sup: Supervisor) -> str:
    port = sup.port(kind)
    return (f"redis://127.0.0.1:{port}/0" if kind == "redis"
            else f"amqp://guest:guest@127.0.0.1:{port}/%2F")


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory):
    """One supervised RabbitMQ node for the module."""
    data = tmp_path_factory.mktemp("rabbitmq")
    try:
        specs = frame.rabbitmq_services(data)
    except frame.BrokerUnavailable as exc:
        pytest.skip(f"rabbitmq: {exc}")
    with supervised("rabbitmq", specs, data / "run") as sup:
        yield sup


@pytest.fixture(scope="module", params=["zmq", "redis", "rabbitmq"])
def transport(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    kind = request.param
    if kind == "zmq":
        yield kind, ""
        return
    if kind == "rabbitmq":
        yield kind, url_for(kind, request.getfixturevalue("rabbit"))
        return
    try:
        broker = frame.redis(tmp_path_factory.mktemp(kind))
    except frame.BrokerUnavailable as exc:
        pytest.skip(f"{kind}: {exc}")
    try:
        yield kind, url_of(kind, broker)
    finally:
        broker.stop()


@pytest.mark.timeout(120)
def test_store_holds_exactly_the_reference_then_a_rerun_adds_nothing(transport, ticks, want,
                                                                      tmp_path: Path) -> None:
    kind, url = transport
    r = run_pipeline(ticks, tmp_path / "db", transport=kind, url=url, workers=2, batch=150)
    assert (r.accepted, r.rejected) == (len(want[0]), len(want[1]))
    got = verify.stored(tmp_path / "db")
    assert verify.same(got, want)
    again = run_pipeline(ticks, tmp_path / "db", transport=kind, url=url, workers=2, batch=150)
    assert (again.ticks, again.accepted, again.rejected) == (0, 0, 0)
    assert verify.checksum(verify.stored(tmp_path / "db")[0]) == verify.checksum(want[0])


@pytest.mark.timeout(120)
def test_worker_killed_mid_stream_loses_and_duplicates_nothing(transport, ticks, want,
                                                               tmp_path: Path) -> None:
    kind, url = transport
    killed: list[int] = []

    def kill_one(p: Pipeline) -> None:
        if not killed:  # at the first commit: the rest of the stream is still in flight
            pid = p.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    spec = TransportSpec(kind, url=url, workers=2)
    r = Pipeline(TickSource(ticks, batch=40), str(tmp_path / "db"), spec, window=800,
                 on_commit=kill_one).run()
    assert killed and r.restarts >= 1
    got = verify.stored(tmp_path / "db")
    assert len(got[0]) == len(want[0]) and len(got[1]) == len(want[1])
    assert verify.checksum(got[0]) == verify.checksum(want[0])
    assert verify.same(got, want)


def kill_and_restart_mid_stream(kind: str, sup: Supervisor, ticks: Path, tmp_path: Path,
                                retransmit_s: float):
    """Run the pipeline against the supervised broker ``kind``, SIGKILLed at the first commit
    and restarted on the same port by its restart policy; return the run's result."""
    kills: list[int] = []

    def kill_broker(p: Pipeline) -> None:
        if not kills:
            kills.append(sup.pid(kind))
            sup.kill(kind)

    spec = TransportSpec(kind, url=url_for(kind, sup), workers=2)
    r = Pipeline(TickSource(ticks, batch=40), str(tmp_path / "db"), spec, window=800,
                 retransmit_s=retransmit_s, on_commit=kill_broker).run()
    assert kills and sup.pid(kind) != kills[0]  # it really was a new server process
    return r


@pytest.mark.timeout(120)
def test_redis_killed_and_restarted_mid_stream(ticks, want, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    try:
        specs = frame.redis_services(tmp_path / "data", appendonly=True)
    except frame.BrokerUnavailable as exc:
        pytest.skip(str(exc))
    with supervised("redis", specs, tmp_path / "run") as sup:
        r = kill_and_restart_mid_stream("redis", sup, ticks, tmp_path, retransmit_s=1.0)
    assert r.accepted == len(want[0])
    assert verify.same(verify.stored(tmp_path / "db"), want)


def test_sink_skips_a_redelivered_batch_and_cuts_uncommitted_dead_letters(tmp_path: Path) -> None:
    lines = [b"1,100,AB,10.0,1", b"2,200,AB,10.0,0", b"3,300,AB,10.5,2"]
    p = partition_of(lines[0])
    batch = clean_batch([2, 3, 4], lines, {})
    with StreamSink(tmp_path / "db") as s:
        assert s.commit([Delivery(p, 4, batch)]) == (2, 1)
        assert s.commit([Delivery(p, 4, batch)]) == (0, 0)  # the same batch again: skipped
        s._dl.write(b"9,AB,late,uncommitted\n")  # what a crash before the WAL record leaves
        s._dl.flush()
    with StreamSink(tmp_path / "db") as s:
        assert s.truncated == len(b"9,AB,late,uncommitted\n")
        assert int(s.hwm[p]) == 4
        st = s.states([p])["AB"]
        assert (sorted(st.seqs), st.newest_ts, list(st.window)) == ([1, 3], 300, [10.0, 10.5])
    acc, dead = verify.stored(tmp_path / "db")
    assert acc["seq"].tolist() == [1, 3] and dead["reason"].tolist() == ["nonpositive"]


def test_duckdb_sink_same_result_in_one_transaction_per_commit(ticks, want, tmp_path: Path) -> None:
    duck = pytest.importorskip("duckdb", reason="the DuckDB sink is a peers dependency")
    del duck
    from labsupport.stream.duck import DuckSink

    spec = TransportSpec("zmq", workers=2)
    r = Pipeline(TickSource(ticks, batch=150), str(tmp_path / "dd"), spec, sink=DuckSink).run()
    assert (r.accepted, r.rejected) == (len(want[0]), len(want[1]))
    again = Pipeline(TickSource(ticks, batch=150), str(tmp_path / "dd"), spec, sink=DuckSink).run()
    assert (again.ticks, again.accepted) == (0, 0)
    with DuckSink(tmp_path / "dd") as s:
        t, d = s.tables()
    assert t[verify.ACCEPTED].reset_index(drop=True).equals(want[0])
    assert verify.sort_dead_letters(d.astype(str)).equals(want[1])


@pytest.mark.timeout(180)
def test_rabbitmq_killed_and_restarted_mid_stream(rabbit, ticks, want, tmp_path: Path) -> None:
    r = kill_and_restart_mid_stream("rabbitmq", rabbit, ticks, tmp_path, retransmit_s=2.0)
    assert r.accepted == len(want[0])
    assert verify.same(verify.stored(tmp_path / "db"), want)
