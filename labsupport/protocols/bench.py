"""Benchmark of Lab 13: ITCH decode rates (streaming, vectorised), ITCH book rate, FIX vs simplefix.

    flock /tmp/lab-cpu.lock .venv/bin/python -m labsupport.protocols.bench [--events N]

What is timed (each a median over ``--repeats`` runs, after a warm-up run):

* ``itch stream tuples``: :func:`iter_tuples` over a generated day, every message decoded to a
  tuple (pure Python; one ``struct.unpack_from`` per message).
* ``itch stream messages``: the same plus the namedtuple with stripped strings.
* ``itch vector decode``: :func:`decode` of the whole buffer into per-type structured arrays
  (numba framing scan when installed), and the same with the pure-Python scan.
* ``itch framing scan``: the scan alone.
* ``itch book``: :meth:`ItchBook.apply_buffer` (vectorised decode + one Python loop over the
  book messages); rate = all messages of the file / time. And the streaming book
  (``apply_many(iter_tuples(...))``).
* ``fix parse``: our :func:`parse` (validating BodyLength and CheckSum) against simplefix's
  ``FixParser`` on the same messages, one message at a time, interleaved by
  :func:`labsupport.measure.side_by_side`; the ratio is simplefix time / our time.

The day is replicated to at least ``--min-messages`` for the vectorised runs so the timing is
not dominated by fixed costs; the book runs on the original day (replicated order references
would not be a valid feed). Writes ``build/bench/protocols.json``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from labsupport import cli
from labsupport.measure import BenchReport, scaled, side_by_side

from .fix.message import parse as fix_parse
from .itch.book import ItchBook
from .itch.parser import iter_messages, iter_tuples
from .itch.vector import HAVE_NUMBA, decode, scan

__all__ = ["make_day", "fix_session", "parse_all", "time_vs_size", "itch_rates", "fix_compare", "main"]


def make_day(n_events: int, seed: int = 7, n_symbols: int = 4):
    """(flow, ItchDay) for ``n_events`` of generated order flow."""
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow

    from .itch.gen import generate_itch_day

    flow = generate_order_flow(OrderFlowConfig(n_events=n_events, n_symbols=n_symbols, seed=seed))
    return flow, generate_itch_day(flow, seed=seed)


def fix_session(n_events: int, seed: int = 7) -> list[bytes]:
    """A FIX order-entry session: the client's D/F/G and the gateway's 8/9, in wire order."""
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow

    from .fix.engine import FixGateway, FlowClient

    flow = generate_order_flow(OrderFlowConfig(n_events=n_events, n_symbols=2, seed=seed))
    rows = flow.events[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty", "account"]].tolist()
    gw, client = FixGateway(), FlowClient(flow.symbols)
    out: list[bytes] = []
    for r in rows:
        req = client.to_fix(r)
        out.append(req)
        for a in gw.on_message(req):
            client.on_answer(a)
            out.append(a)
    return out


def _rate(fn: Callable[[], int], repeats: int) -> tuple[float, float]:
    """(median, best) items per second of ``fn`` (which returns the item count)."""
    fn()  # warm-up (numba compile / caches)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), max(rates)


def _count(it) -> int:
    n = 0
    for _ in it:
        n += 1
    return n


def parse_all(msgs: list[bytes]) -> int:
    """Parse every message with our FIX parser (the profiled loop of the notebook)."""
    for m in msgs:
        fix_parse(m)
    return len(msgs)


def time_vs_size(data: bytes, sizes: list[int], *, copies: int = 20) -> list[dict]:
    """Seconds to parse the first n messages of ``data`` (replicated), streaming vs vectorised."""
    from .itch.layout import LAYOUTS

    big = data * copies
    offs, _ = scan(big)
    rows = []
    for n in sizes:
        if n > len(offs):
            break
        last = int(offs[n - 1])
        buf = big[: last + LAYOUTS[chr(big[last])].size]
        t0 = time.perf_counter()
        _count(iter_tuples(buf))
        t1 = time.perf_counter()
        decode(buf)
        t2 = time.perf_counter()
        rows.append({"messages": n, "stream s": t1 - t0, "vector s": t2 - t1})
    return rows


def itch_rates(data: bytes, *, repeats: int = 5, min_messages: int = 1_000_000) -> dict[str, dict]:
    """Messages per second of each ITCH path on ``data`` (a framed day)."""
    n_day = len(scan(data)[1])
    copies = max(1, -(-min_messages // n_day))
    big = data * copies
    out: dict[str, dict] = {}

    def add(name, fn, n_msgs):
        med, best = _rate(fn, repeats)
        out[name] = {"messages": n_msgs, "msg_per_s_median": med, "msg_per_s_best": best}

    add("itch stream tuples", lambda: _count(iter_tuples(data)), n_day)
    add("itch stream messages", lambda: _count(iter_messages(data)), n_day)
    if HAVE_NUMBA:
        add("itch vector decode (numba scan)", lambda: len(decode(big, use_numba=True)), n_day * copies)
        add("itch framing scan (numba)", lambda: len(scan(big, use_numba=True)[1]), n_day * copies)
    add("itch vector decode (python scan)", lambda: len(decode(data, use_numba=False)), n_day)

    def book_fast():
        return ItchBook().apply_buffer(data)

    def book_stream():
        b = ItchBook()
        b.apply_many(iter_tuples(data))
        return b.messages

    add("itch book (vector decode + apply)", book_fast, n_day)
    add("itch book (streaming)", book_stream, n_day)
    return out


def fix_compare(msgs: list[bytes], *, repeats: int = 7):
    """side_by_side of our parser and simplefix's on ``msgs``; None when simplefix is absent."""
    try:
        import simplefix
    except ImportError:
        print("simplefix is not installed (peers extra): FIX comparison skipped")
        return None

    def ours():
        for m in msgs:
            fix_parse(m)

    def theirs():
        p = simplefix.FixParser()
        for m in msgs:
            p.append_buffer(m)
            p.get_message()

    return side_by_side({"ours": ours, "simplefix": theirs}, repeats=repeats, number=1, baseline="simplefix")


def main(argv: list[str] | None = None) -> BenchReport:
    ap = cli.ArgumentParser(prog="python -m labsupport.protocols.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=scaled(ci=20_000, default=100_000, full=500_000),
                    help="order-flow events behind the generated ITCH day")
    ap.add_argument("--fix-events", type=int, default=scaled(ci=2_000, default=5_000, full=20_000))
    ap.add_argument("--min-messages", type=int, default=scaled(ci=1_000_000, default=2_000_000, full=5_000_000))
    ap.add_argument("--repeats", type=int, default=scaled(ci=5, default=5, full=7))
    ap.add_argument("--no-write", action="store_true", help="do not write build/bench JSON")
    args = ap.parse_args(argv)

    report = BenchReport("protocols")
    _, day = make_day(args.events)
    for name, r in itch_rates(day.data, repeats=args.repeats, min_messages=args.min_messages).items():
        report.add(name, messages=r["messages"], msg_per_s_median=round(r["msg_per_s_median"]),
                   msg_per_s_best=round(r["msg_per_s_best"]))
    msgs = fix_session(args.fix_events)
    sbs = fix_compare(msgs, repeats=args.repeats)
    if sbs is not None:
        t_ours = float(statistics.median(sbs.per_call_ns["ours"]))
        t_peer = float(statistics.median(sbs.per_call_ns["simplefix"]))
        report.add("fix parse ours", messages=len(msgs), msg_per_s_median=round(len(msgs) / t_ours * 1e9))
        report.add("fix parse simplefix", messages=len(msgs), msg_per_s_median=round(len(msgs) / t_peer * 1e9))
        report.add("fix parse speedup vs simplefix", ratio=round(t_peer / t_ours, 2))
    report.print()
    if not args.no_write:
        print(f"wrote {report.write()}")
    return report


if __name__ == "__main__":
    main()
