"""Lab 03's cleaning rules: each rule at its boundaries, then the batch version against the reference.

The reference is ``Cleaner`` (one tick at a time, the rules as written); ``clean_batch`` (numpy,
optimistic passes) must give the same verdicts on any stream cut into any batches.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.stream import Cleaner, DeadLetter, Rules, SymbolState, clean_batch, parse
from labsupport.stream.clean import clean_reference, dead_letter, partition_of


def reasons(lines: list[bytes], rules: Rules | None = None) -> list[str | None]:
    c = Cleaner(rules)
    return [o.reason if isinstance(o, DeadLetter) else None
            for o in (c.push(i, r) for i, r in enumerate(lines, 2))]


def batch_reasons(lines: list[bytes], rules: Rules | None = None, method: str = "loop"
                  ) -> list[str | None]:
    b = clean_batch(list(range(2, len(lines) + 2)), lines, {}, rules, method=method)
    out: list[str | None] = [None] * len(lines)
    for d in b.rejected:
        out[d.line - 2] = d.reason
    return out


def numpy_reasons(lines: list[bytes], rules: Rules | None = None) -> list[str | None]:
    return batch_reasons(lines, rules, method="numpy")


def kernel_reasons(lines: list[bytes], rules: Rules | None = None) -> list[str | None]:
    return batch_reasons(lines, rules, method="kernel")


BOTH = pytest.mark.parametrize("run", [reasons, batch_reasons, numpy_reasons, kernel_reasons],
                               ids=["reference", "batch-loop", "batch-numpy", "batch-kernel"])
METHODS = pytest.mark.parametrize("method", ["loop", "numpy", "kernel", "auto"])
T0 = 1_700_000_000_000_000_000


def tick(seq: int, ts: int, price: float = 100.0, size: int = 10, sym: str = "AB") -> bytes:
    return f"{seq},{ts},{sym},{price},{size}".encode()


@pytest.mark.parametrize("raw", [
    b"", b"1,2,AB,1.0", b"1,2,AB,1.0,5,6", b"x,2,AB,1.0,5", b"1,2.5,AB,1.0,5", b"1,2,,1.0,5",
    b"1,2,A B,1.0,5", b"1,2,AB,abc,5", b"1,2,AB,1.0,5.0", b"1,2,AB,nan,5", b"1,2,AB,inf,5",
    b"1,2,AB,1e999,5", b"99999999999999999999,2,AB,1.0,5", b"1,2,\xff\xfe,1.0,5",
    b"1,2,AB,1.0,5\r", b" 1,2,AB,1.0,5", b"1,2,AB,1_0.0,5", b"1,2," + b"A" * 33 + b",1.0,5",
])
@BOTH
def test_malformed(run, raw: bytes) -> None:
    assert run([raw]) == ["malformed"]


@pytest.mark.parametrize("raw,ok", [(b"1,2,AB,1.0,5", True), (b"-1,-2,BRK.B,.5,1", True),
                                    (b"1,2,AB,1e3,5", True), (b"1,2,X/Y_Z-1,7.,3", True),
                                    (b"9223372036854775807,2,AB,1,1", True),
                                    (b"9223372036854775808,2,AB,1,1", False)])
def test_parse_accepts_the_grammar(raw: bytes, ok: bool) -> None:
    assert (parse(raw) is not None) is ok


@BOTH
def test_nonpositive_price_or_size(run) -> None:
    got = run([tick(1, T0, 0.0), tick(2, T0, -1.0), tick(3, T0, size=0), tick(4, T0, size=-3),
               tick(5, T0, 0.01, 1)])
    assert got == ["nonpositive"] * 4 + [None]


@BOTH
def test_duplicate_only_of_an_accepted_seq(run) -> None:
    got = run([tick(1, T0), tick(1, T0 + 1), tick(2, T0, size=0), tick(2, T0 + 2),
               tick(1, T0, sym="CD")])
    # seq 1 again: duplicate; seq 2 was rejected first, so its second copy is the first accepted
    assert got == [None, "duplicate", "nonpositive", None, None]


@BOTH
def test_late_is_strictly_more_than_late_ns(run) -> None:
    rules = Rules(late_ns=1000)
    got = run([tick(1, T0 + 5000), tick(2, T0 + 4000), tick(3, T0 + 3999), tick(4, T0 + 9000),
               tick(5, T0 + 1, sym="CD")], rules)
    assert got == [None, None, "late", None, None]


@BOTH
def test_late_measured_from_the_newest_accepted_not_a_rejected_one(run) -> None:
    rules = Rules(late_ns=1000)
    got = run([tick(1, T0), tick(2, T0 + 10**9, size=0), tick(3, T0 + 500)], rules)
    assert got == [None, "nonpositive", None]


@BOTH
def test_outlier_needs_five_accepted(run) -> None:
    lines = [tick(i, T0 + i, 100.0) for i in range(1, 5)] + [tick(5, T0 + 5, 500.0),
                                                             tick(6, T0 + 6, 500.0)]
    # the fifth tick is checked against nothing (4 accepted); the sixth against the median
    # of 100,100,100,100,500 = 100
    assert run(lines) == [None] * 5 + ["outlier"]


@BOTH
def test_outlier_boundary_is_strictly_more_than_pct(run) -> None:
    base = [tick(i, T0 + i, 100.0) for i in range(1, 6)]
    assert run(base + [tick(6, T0 + 6, 110.0)]) == [None] * 6
    assert run(base + [tick(6, T0 + 6, 110.0001)])[-1] == "outlier"
    assert run(base + [tick(6, T0 + 6, 90.0)])[-1] is None
    assert run(base + [tick(6, T0 + 6, 89.999)])[-1] == "outlier"


@BOTH
def test_median_is_numpys_over_the_last_twenty_accepted(run) -> None:
    prices = [100.0 + i for i in range(30)]  # each within 10% of the running median
    lines = [tick(i, T0 + i, p) for i, p in enumerate(prices, 1)]
    # 130 is 8.8% from the median of the last 20 (119.5), 13.5% from that of all 30 (114.5)
    assert float(np.median(prices[-20:])) == 119.5 and float(np.median(prices)) == 114.5
    lines.append(tick(31, T0 + 31, 130.0))
    lines.append(tick(32, T0 + 32, 50.0))  # far off: outlier, and not added to the window
    assert run(lines)[-2:] == [None, "outlier"]


@BOTH
def test_rule_order_first_failing_reason_wins(run) -> None:
    base = [tick(i, T0 + 10**10 + i, 100.0) for i in range(1, 6)]
    # duplicate and late and outlier at once: duplicate; late and outlier: late
    assert run(base + [tick(3, T0, 900.0)])[-1] == "duplicate"
    assert run(base + [tick(9, T0, 900.0)])[-1] == "late"
    assert run(base + [tick(9, T0, 0.0)])[-1] == "nonpositive"


def test_dead_letter_row_has_seq_symbol_and_text_of_bytes() -> None:
    d = dead_letter(7, b"12,34,\xffX,1.0", "malformed")
    assert (d.line, d.seq, d.symbol, d.reason, d.raw) == (7, "12", "\\xffX", "malformed",
                                                         "12,34,\\xffX,1.0")
    assert dead_letter(3, b"junk", "malformed").symbol == ""


def test_partition_is_keyed_by_the_symbol_field() -> None:
    assert partition_of(tick(1, 5, sym="AAPL")) == partition_of(b"garbage,x,AAPL,zz,1")
    assert 0 <= partition_of(b"") < 16


def test_state_rebuilt_from_accepted_ticks_gives_the_same_verdicts() -> None:
    lines = [tick(i, T0 + i * 1000, 100.0 + (i % 7)) for i in range(1, 40)]
    c = Cleaner()
    acc = [o for o in (c.push(i, r) for i, r in enumerate(lines)) if not isinstance(o, DeadLetter)]
    rebuilt = SymbolState.from_accepted([t.seq for _, t in acc], [t.ts_ns for _, t in acc],
                                        [t.price for _, t in acc])
    live = c.states["AB"]
    assert (rebuilt.seqs, rebuilt.newest_ts, list(rebuilt.window), rebuilt.accepted) == \
        (live.seqs, live.newest_ts, list(live.window), live.accepted)
    assert rebuilt.ordered == sorted(live.window)
    assert rebuilt.median() == float(np.median(list(live.window)))


# -- the batch version against the reference, on arbitrary streams --------------------------
@st.composite
def streams(draw):
    n = draw(st.integers(1, 80))
    syms = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    out = []
    for s in syms:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            out.append(draw(st.binary(max_size=12)))
            continue
        seq = draw(st.integers(0, 30))
        ts = T0 + draw(st.integers(0, 40)) * 10**8
        price = draw(st.sampled_from([100.0, 101.0, 99.5, 104.0, 111.0, 89.0, 150.0, 0.0,
                                      100.25, 97.0]))
        size = draw(st.integers(-1, 5))
        out.append(f"{seq},{ts},{s},{price},{size}".encode())
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return out, cuts


@METHODS
@settings(max_examples=40, deadline=None)
@given(data=streams(), rules=st.sampled_from([Rules(), Rules(late_ns=10**8, max_dev_pct=2.0),
                                              Rules(late_ns=0, max_dev_pct=0.0)]))
def test_batch_equals_reference_on_any_stream_and_any_batching(method, data, rules) -> None:
    lines, cuts = data
    numbered = list(enumerate(lines, 2))
    acc, rej = clean_reference(numbered, rules)
    states: dict = {}
    got_acc, got_rej = [], []
    bounds = [0, *cuts, len(lines)]
    for a, b in zip(bounds, bounds[1:]):
        if a == b:
            continue
        part = numbered[a:b]
        out = clean_batch([i for i, _ in part], [r for _, r in part], states, rules,
                          method=method)
        got_acc += list(zip(out.line.tolist(), out.seq.tolist(), out.ts_ns.tolist(),
                            out.price.tolist(), out.size.tolist(), out.symbol))
        got_rej += out.rejected
    assert got_acc == [(ln, t.seq, t.ts_ns, t.price, t.size, t.symbol) for ln, t in acc]
    assert sorted(got_rej, key=lambda d: d.line) == rej


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    out = Cleaner().push(2, raw)
    assert isinstance(out, (tuple, DeadLetter))
    b = clean_batch([2], [raw], {})
    assert len(b) + len(b.rejected) == 1


@METHODS
def test_a_long_dirty_stream_matches_with_a_printed_seed(method: str) -> None:
    from labsupport.stream.gen import make_ticks

    seed = 20261201
    print(f"seed={seed}")
    lines = make_ticks(5000, symbols=5, dirt=0.08, seed=seed)
    numbered = list(enumerate(lines, 2))
    acc, rej = clean_reference(numbered)
    b = clean_batch([i for i, _ in numbered], lines, {}, method=method)
    assert b.line.tolist() == [ln for ln, _ in acc]
    assert sorted(b.rejected, key=lambda d: d.line) == rej
    assert {d.reason for d in rej} == {"malformed", "nonpositive", "duplicate", "late", "outlier"}
