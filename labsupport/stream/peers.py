"""The same cleaning rules written as a bytewax dataflow: the stream framework we compare with.

bytewax (Rust's timely dataflow under a Python API) keys the stream by symbol and keeps one state
per key with ``stateful_map``: the shape every stream framework gives this job (Flink's keyed
state, Kafka Streams' state stores). The mapper is the reference rule itself (``clean.verdict``
on a :class:`~.clean.SymbolState`), so the comparison is of the machinery, not of the rules;
malformed lines are keyed to one "malformed" key. Skipped with a message when bytewax is absent.
"""

from __future__ import annotations

from collections.abc import Sequence

from .clean import Rules, SymbolState, dead_letter, parse, verdict

__all__ = ["bytewax_available", "bytewax_clean"]


def bytewax_available() -> str | None:
    """None if bytewax imports, else why not (for the skip message)."""
    try:
        import bytewax.dataflow  # noqa: F401
    except ImportError as exc:
        return f"bytewax is not installed ({exc.name}): pip install bytewax"
    return None


def bytewax_clean(raws: Sequence[bytes], rules: Rules | None = None) -> tuple[int, int]:
    """Run the rules over ``raws`` in a bytewax flow: (accepted, rejected)."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main

    rules = rules or Rules()
    flow = Dataflow("stream_clean")
    lines = op.input("in", flow, TestingSource(list(enumerate(raws, 2))))

    def key(item: tuple[int, bytes]) -> str:
        t = parse(item[1])
        return t.symbol if t is not None else "\x00malformed"

    def mapper(st: SymbolState | None, item: tuple[int, bytes]):
        st = st if st is not None else SymbolState()
        t = parse(item[1])
        if t is None:
            return st, dead_letter(item[0], item[1], "malformed")
        reason = verdict(st, t, rules)
        if reason is not None:
            return st, dead_letter(item[0], item[1], reason)
        st.accept(t.seq, t.ts_ns, t.price)
        return st, None

    out: list = []
    cleaned = op.stateful_map("clean", op.key_on("key", lines, key), mapper)
    op.output("out", cleaned, TestingSink(out))
    run_main(flow)
    rejected = sum(1 for _, v in out if v is not None)
    return len(out) - rejected, rejected
