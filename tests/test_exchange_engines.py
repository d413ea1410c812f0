"""The matcher on Lab 11's compiled engine against Lab 02's: the same outputs to every
receiver, and L2 updates (kept beside the compiled engine, which does not publish them) that
rebuild the engine's own book after every input; the journal rebuilds both."""

from __future__ import annotations

import random

import pytest

from labsupport.exchange import ExchangeError
from labsupport.exchange.matching import ENGINES, Journal, Matcher, make_engine
from labsupport.orderbook import BUY, FOK, IOC, LIMIT, MARKET, SELL, Listener

SYMBOLS = ("AAA", "BBB")


def flow(seed: int, n: int) -> list[dict]:
    """Random internal order messages: limits around a mid, IOC/FOK/market, cancels and
    replaces (some crossing) of earlier orders, and some of unknown or dead orders."""
    rng = random.Random(seed)
    msgs, oids = [], []
    for i in range(1, n + 1):
        sym = rng.choice(SYMBOLS)
        r = rng.random()
        if r < 0.6 or not oids:
            ot = rng.choices((LIMIT, IOC, FOK, MARKET), (8, 1, 1, 1))[0]
            px = 0 if ot == MARKET else rng.randint(95, 105)
            msgs.append({"k": "new", "oid": i, "sym": sym, "side": rng.choice((BUY, SELL)),
                         "ot": ot, "px": px, "qty": rng.randint(1, 30),
                         "acct": rng.choice(("a1", "a2", "a3"))})
            oids.append((i, sym))
        elif r < 0.8:
            oid, s = rng.choice(oids)
            msgs.append({"k": "cxl", "oid": oid, "sym": s})
        else:
            oid, s = rng.choice(oids)
            msgs.append({"k": "rpl", "oid": oid, "sym": s, "px": rng.randint(95, 105),
                         "qty": rng.randint(1, 30)})
    return msgs


def run(engine: str, msgs: list[dict], journal: Journal | None = None, batches: int = 0):
    """Feed ``msgs`` one by one (or, with ``batches``, in random bus batches of up to that
    many through ``handle_many``); after each, the book rebuilt from the L2 updates must be
    the engine's own."""
    out: list[tuple[str, dict]] = []
    books: dict[str, dict] = {s: {} for s in SYMBOLS}
    m = Matcher(SYMBOLS, journal=journal, engine=engine, clock=lambda: 0,
                send=lambda dest, msg: out.append((dest, msg)))
    rng, i, chunks = random.Random(len(msgs)), 0, []
    while i < len(msgs):
        n = rng.randint(1, batches) if batches else 1
        chunks.append([dict(x) for x in msgs[i:i + n]])
        i += n
    for chunk in chunks:
        before = len(out)
        m.handle_many(chunk)
        msg = chunk[-1]
        for dest, o in out[before:]:
            if dest == "md":
                for side, px, qty, n in o["l2"]:
                    if qty:
                        books[o["sym"]][(side, px)] = [px, qty, n]
                    else:
                        books[o["sym"]].pop((side, px), None)
        for s in SYMBOLS:  # the book the updates rebuild is the engine's own, every time
            side = {b: sorted(([px, q, n] for (sd, _), (px, q, n) in books[s].items() if sd == b),
                              reverse=b == BUY) for b in (BUY, SELL)}
            assert {"bids": side[BUY], "asks": side[SELL]} == m.l2(s), (engine, msg)
    return m, [(d, {k: v for k, v in o.items() if k != "ts"}) for d, o in out]


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("batches", [0, 40])
def test_lab11_gives_lab02s_outputs_and_its_l2_rebuilds_the_book(seed, batches) -> None:
    print("seed", seed)
    msgs = flow(seed, 600)
    ref, ref_out = run("lab02", msgs)
    fast, fast_out = run("lab11", msgs, batches=batches)
    assert ref.engine.trade_count > 50
    assert fast_out == ref_out  # reports, trades, ITCH and L2 updates, in the same order
    assert {s: fast.l2(s) for s in SYMBOLS} == {s: ref.l2(s) for s in SYMBOLS}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_journal_rebuilds_the_books_on_either_engine(tmp_path, engine) -> None:
    msgs = flow(3, 300)
    journal = Journal(tmp_path / "m.jnl")
    first, _ = run(engine, msgs, journal)
    journal.close()
    again = Matcher(SYMBOLS, journal=Journal(tmp_path / "m.jnl"), engine=engine)
    assert again.recover() == len(msgs)
    assert {s: again.l2(s) for s in SYMBOLS} == {s: first.l2(s) for s in SYMBOLS}
    assert again.status()["trades"] == first.status()["trades"] > 0
    again.handle({"k": "new", "oid": 10_000, "sym": "AAA", "side": BUY, "ot": LIMIT, "px": 1,
                  "qty": 1, "acct": "a1"})  # trading continues, its levels known
    assert [1, 1, 1] in again.l2("AAA")["bids"]
    again.journal.close()


def test_unknown_engine_is_named() -> None:
    with pytest.raises(ExchangeError, match="--engine lab99"):
        make_engine("lab99", SYMBOLS, Listener())
