"""Lab 03's compiled paths: the batch parser and the rules kernel against their references.

``fastparse.parse_batch`` must give what ``clean.parse`` gives on every line (fast subset or
fallback, ``malformed`` included), with the numba kernel and with its Python twin;
``kernel.rules_kernel`` (compiled) must decide exactly as ``kernel.rules_python`` (the same
code run as Python), which the clean tests hold equal to the per-tick reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.stream import Rules, SymbolState, clean_batch, parse
from labsupport.stream.clean import partition_of
from labsupport.stream.fastparse import (
    HAVE_NUMBA,
    key_parts,
    parse_batch,
    partitions_of,
    scan,
    scan_python,
)
from labsupport.stream.kernel import rules_kernel, rules_python, run_symbol_kernel

KERNELS = pytest.mark.parametrize("kernel", [scan, scan_python], ids=["compiled", "python"])

_FIELD = st.one_of(
    st.integers(-(1 << 64), 1 << 64).map(str),
    st.sampled_from(["9223372036854775807", "-9223372036854775808", "9223372036854775808",
                     "922337203685477580", "1e3", "1.", ".5", "-.5", "0.0", "-0", "nan", "inf",
                     "1e999", "123456789012345.6", "1234567890123456", "1.0000000000000002",
                     "AB", "BRK.B", "X/Y_Z-1", "A" * 32, "A" * 33, "", "1_0", " 1", "1\r"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="0123456789.-eE+", max_size=22),
)


@st.composite
def near_lines(draw) -> bytes:
    fields = draw(st.lists(_FIELD, min_size=3, max_size=7))
    raw = ",".join(fields).encode()
    if draw(st.integers(0, 9)) == 0:
        raw += draw(st.binary(max_size=4))
    return raw


def _columns(raws: list[bytes]) -> list[tuple | None]:
    out = []
    for r in raws:
        t = parse(r)
        out.append(None if t is None else (t.seq, t.ts_ns, t.price, t.size,
                                           t.symbol.encode()))
    return out


def _batch_columns(raws: list[bytes], kernel) -> list[tuple | None]:
    b = parse_batch(raws, kernel=kernel)
    return [(int(b.seq[i]), int(b.ts_ns[i]), float(b.price[i]), int(b.size[i]),
             bytes(b.symbol[i])) if b.ok[i] else None for i in range(len(raws))]


@KERNELS
@settings(max_examples=150, deadline=None)
@given(raws=st.lists(st.one_of(near_lines(), st.binary(max_size=40)), min_size=1, max_size=12))
def test_parse_batch_equals_the_per_line_parser(kernel, raws: list[bytes]) -> None:
    assert _batch_columns(raws, kernel) == _columns(raws)


@KERNELS
def test_parse_batch_prices_round_like_float(kernel) -> None:
    rng = np.random.default_rng(31)
    print("seed=31")
    prices = [f"{x:.{k}f}" for x, k in zip(rng.uniform(0, 1e6, 2000), rng.integers(0, 10, 2000))]
    raws = [f"{i},{i},S,{p},1".encode() for i, p in enumerate(prices, 1)]
    got = parse_batch(raws, kernel=kernel).price.tolist()
    assert got == [float(p) for p in prices]


def test_the_compiled_kernel_is_really_compiled_where_numba_is_installed() -> None:
    pytest.importorskip("numba")
    assert HAVE_NUMBA
    clean_batch([2, 3], [b"1,5,A,1.0,1", b"2,6,A,1.0,1"], {}, method="kernel")
    assert scan.is_compiled and rules_kernel.is_compiled


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(st.integers(0, 25), min_size=1, max_size=60),
       data=st.data(), rules=st.sampled_from([Rules(), Rules(late_ns=10**8, max_dev_pct=2.0)]))
def test_rules_kernel_equals_its_python_twin(seqs, data, rules) -> None:
    n = len(seqs)
    ts = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)),
                  dtype=np.int64) * 10**8
    price = np.array(data.draw(st.lists(st.sampled_from([100.0, 101.0, 99.5, 111.0, 89.0,
                                                         100.25]), min_size=n, max_size=n)))
    seq = np.array(seqs, dtype=np.int64)
    idx = np.arange(n)
    out = []
    for kernel in (rules_kernel, rules_python):
        stt, verdicts = SymbolState(), [None] * n
        half = n // 2  # two runs: the state handed back and in again
        run_symbol_kernel(stt, idx[:half], seq[:half], ts[:half], price[:half], rules,
                          verdicts, kernel=kernel)
        run_symbol_kernel(stt, idx[half:], seq[half:], ts[half:], price[half:], rules,
                          verdicts, kernel=kernel)
        out.append((verdicts, stt.seqs, stt.newest_ts, list(stt.window), stt.ordered,
                    stt.accepted, stt.max_seq))
    assert out[0] == out[1]


@settings(max_examples=100, deadline=None)
@given(raws=st.lists(st.one_of(near_lines(), st.binary(max_size=50),
                               st.sampled_from([b"a,b,", b"a,b", b"a,b,\x00", b"1,2,AB\x00,3",
                                                b"1,2," + b"Z" * 40 + b",1"])), max_size=20))
def test_partitions_of_a_batch_equal_partition_of_each_line(raws: list[bytes]) -> None:
    want = [partition_of(r) for r in raws]
    assert partitions_of(raws).tolist() == want
    assert partitions_of(raws, kernel=key_parts.py_func).tolist() == want
