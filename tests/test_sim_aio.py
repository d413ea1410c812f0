"""labsupport.sim.aio: the simulated clock injected into components, and asyncio on it."""

from __future__ import annotations

import asyncio
import time

import pytest

from labsupport.http.server import HttpServer
from labsupport.kv.keyspace import Keyspace
from labsupport.sim import MS, S, SimDeadlock, Simulation
from labsupport.sim.aio import EPOCH_S, AsyncNode, SimClock, SimEventLoop, SimEventLoopPolicy, run


def test_sim_clock_reads_the_simulated_time_in_every_shape():
    sim = Simulation(0)
    clock = SimClock(sim)
    sim.at(1_500 * MS, sim.stop)
    sim.run()
    assert clock.now_ns() == clock.monotonic_ns() == 1_500 * MS
    assert clock.monotonic() == 1.5
    assert clock.time() == EPOCH_S + 1.5 and clock.time_ns() == EPOCH_S * S + 1_500 * MS
    assert clock.clock_ms() == EPOCH_S * 1000 + 1_500


def test_kv_keys_expire_on_the_simulated_clock():
    sim = Simulation(0)
    ks = Keyspace(clock_ms=SimClock(sim).clock_ms)
    ks.set(b"k", b"v")
    ks.set_deadline(b"k", SimClock(sim).clock_ms() + 100)
    sim.run(until_ns=99 * MS)
    assert ks.lookup(b"k") == b"v" and ks.ttl_ms(b"k") == 1
    sim.run(until_ns=100 * MS)
    assert ks.lookup(b"k") is None and ks.expired_keys == 1


def test_http_server_takes_the_sim_clock_for_deadlines_and_the_date():
    sim = Simulation(0)
    clock = SimClock(sim)
    server = HttpServer(lambda req: None, clock=clock.monotonic, date_clock=clock.time)
    sim.run(until_ns=7 * S)
    server.sweep()
    assert server.clock() == 7.0
    assert b"date: Thu, 01 Jan 2026 00:00:07 GMT" in server.date.line


async def _sleeps_and_times_out() -> tuple[float, list[str]]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    log = []
    await asyncio.sleep(3600)
    log.append(f"slept {loop.time() - t0:.3f}")
    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=2.5)
    except TimeoutError:
        log.append(f"timed out at {loop.time() - t0:.3f}")
    result = await asyncio.wait_for(asyncio.sleep(0.25, result="done"), timeout=1)
    log.append(f"{result} at {loop.time() - t0:.3f}")
    return loop.time() - t0, log


def test_asyncio_sleep_and_wait_for_run_in_simulated_time():
    t0 = time.monotonic()
    elapsed, log = run(_sleeps_and_times_out())
    assert log == ["slept 3600.000", "timed out at 3602.500", "done at 3602.750"]
    assert elapsed == pytest.approx(3602.75, abs=1e-9)
    assert time.monotonic() - t0 < 5  # an hour of simulated time, no waiting (generous bound)


def test_simulated_time_is_exact_to_the_nanosecond():
    sim = Simulation(0)

    async def main():
        await asyncio.sleep(0.001)
        await asyncio.sleep(1e-6)
    run(main(), sim=sim)
    assert sim.now_ns == 1_001_000


def test_concurrent_tasks_interleave_in_a_fixed_order():
    async def main():
        order = []

        async def worker(name, delays):
            for d in delays:
                await asyncio.sleep(d)
                order.append((round(asyncio.get_running_loop().time(), 6), name))
        await asyncio.gather(worker("a", [0.3, 0.3, 0.3]), worker("b", [0.2, 0.2, 0.2, 0.2]))
        return order
    first, second = run(main()), run(main())
    assert first == second
    assert [t for t, _ in first] == sorted(t for t, _ in first)
    assert first[:3] == [(0.2, "b"), (0.3, "a"), (0.4, "b")]


def test_a_coroutine_that_can_never_finish_is_a_deadlock():
    async def main():
        await asyncio.get_running_loop().create_future()  # nobody will ever set it
    with pytest.raises(SimDeadlock):
        run(main())


def test_the_policy_makes_asyncio_run_use_simulated_time():
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(SimEventLoopPolicy())
    try:
        async def main():
            await asyncio.sleep(86_400)
            return type(asyncio.get_running_loop()), asyncio.get_running_loop().time()
        kind, now = asyncio.run(main())
    finally:
        asyncio.set_event_loop_policy(old)
    assert kind is SimEventLoop and now == 86_400.0


# -- asyncio components on the simulated network --------------------------------------------------
class AsyncPinger(AsyncNode):
    """Pings ``b`` ten times, waiting at most 50 ms for each echo."""

    async def main(self):
        self.outcome = []
        for i in range(10):
            self.send("b", i)
            try:
                src, msg = await asyncio.wait_for(self.recv(), timeout=0.05)
                self.outcome.append(("echo", msg, self.now_ns))
            except TimeoutError:
                self.outcome.append(("timeout", i, self.now_ns))


class AsyncEcho(AsyncNode):
    async def main(self):
        while True:
            src, msg = await self.recv()
            await asyncio.sleep(0.001)  # a millisecond of "work"
            self.send(src, msg)


def _ping_run(seed: int) -> tuple[list, str]:
    sim = Simulation(seed)
    sim.add_node("a", AsyncPinger)
    sim.add_node("b", AsyncEcho)
    sim.net.set_default(latency=10 * MS, loss=0.3)

    async def wait_for_pinger():
        while True:
            node = sim.node("a")
            if node is not None and node.task is not None and node.task.done():
                return node.outcome
            await asyncio.sleep(0.01)
    outcome = run(wait_for_pinger(), sim=sim)
    return outcome, sim.trace.digest()


def test_asyncio_nodes_on_the_simulated_network_are_deterministic():
    (out1, d1), (out2, d2), (_, d3) = _ping_run(5), _ping_run(5), _ping_run(6)
    assert out1 == out2 and d1 == d2 and d3 != d1
    kinds = {k for k, _, _ in out1}
    assert kinds == {"echo", "timeout"}  # 30 % loss each way: both outcomes happen
    t = 0
    for kind, _, at in out1:  # an echo takes 10 + 1 + 10 ms; a timeout exactly 50 ms
        assert at - t == (21 * MS if kind == "echo" else 50 * MS)
        t = at


def test_a_crash_cancels_an_async_nodes_task_and_a_restart_runs_a_fresh_one():
    sim = Simulation(0)
    sim.add_node("a", AsyncPinger)
    sim.add_node("b", AsyncEcho)
    sim.net.set_default(latency=10 * MS)

    async def main():
        await asyncio.sleep(0.03)
        old = sim.node("b").task
        sim.crash("b")
        await asyncio.sleep(0)
        assert old.cancelled()
        await asyncio.sleep(0.2)
        sim.restart("b")
        await asyncio.sleep(0)
        new = sim.node("b").task
        assert new is not old and not new.done()
        await asyncio.sleep(0.5)
        return sim.node("a").outcome
    outcome = run(main(), sim=sim)
    # ping 1 is lost to the crash at 30 ms, 2-4 go to a dead node; 5 (sent at 221 ms) arrives
    # after the restart at 230 ms and is echoed by the fresh task
    assert [kind for kind, _, _ in outcome] == ["echo"] + ["timeout"] * 4 + ["echo"] * 5
    assert [e[5] for e in sim.trace.of("drop")] == ["down"] * 4


def test_run_works_where_a_loop_is_already_running_as_in_a_notebook():
    async def notebook_cell():  # a Jupyter cell runs inside the kernel's running loop
        return run(_sleeps_and_times_out())
    elapsed, log = asyncio.run(notebook_cell())
    assert log[-1] == "done at 3602.750"
