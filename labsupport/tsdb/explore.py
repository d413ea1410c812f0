"""Codec choice and block size against bytes per point: the numbers behind notebook 08's explorer.

A segment encodes each column of each block on its own (``segment.encode_column``), so two
things decide the bytes a tick costs on disk: which codec a column gets, and how many points a
block holds (every block pays its codec header, its first value in full and, for fitted bucket
tables, the table itself; a longer block spreads that over more points, but a range query must
then decode more points it does not want).

:func:`codec_sizes` encodes one column of one symbol's ticks block by block with every codec
that applies (the same list :func:`~.explain.column_bytes` prices for one block) and with the
store's own choice, and reports bytes per point; :func:`show_codec_sizes` plots one codec's
cost across block sizes next to all codecs at the chosen size; :func:`codec_explorer` puts
sliders on it. Nothing here encodes anything the codecs do not: it only calls them.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from . import codecs
from .bench import make_workload
from .segment import encode_column

__all__ = ["BLOCK_SIZES", "COLUMNS", "codec_names", "codec_sizes", "column_values", "show_codec_sizes",
           "codec_explorer"]

BLOCK_SIZES = (256, 512, 1024, 2048, 4096, 8192, 16384, 65536)
COLUMNS = {"ts": "ts", "price": "float", "size": "int"}  # column -> codec kind
STORE = "the store's choice"


def _encoders(kind: str) -> dict:
    """Codec name -> encoder of one block (bytes); the store's own choice comes first."""
    out = {STORE: lambda v: encode_column(v, kind) if kind != "ts" else codecs.encode_timestamps(v),
           "raw (8 bytes)": lambda v: codecs.encode_raw(v)}
    if kind == "ts":
        out["delta-of-delta, Gorilla buckets"] = lambda v: codecs.encode_ts(v, order=2, table=0)
        out["delta, best fixed bucket table"] = lambda v: min(
            (codecs.encode_ts(v, order=1, table=t) for t in range(len(codecs.BUCKET_TABLES))), key=len)
        out["delta, buckets fitted to the block"] = lambda v: codecs.encode_ts(v, order=1, table=codecs.ADAPTIVE)
        out["deltas bit-packed (fixed width)"] = codecs.encode_int
    elif kind == "float":
        out["Gorilla XOR"] = codecs.encode_xor
        out["tick grid + bit packing"] = codecs.encode_float
    else:
        out["Gorilla XOR (as float)"] = lambda v: codecs.encode_xor(v.astype(np.float64))
        out["bit-packed integers"] = codecs.encode_int
    return out


def codec_names(column: str) -> list[str]:
    """The codecs that apply to ``column`` ("ts", "price" or "size"), the store's choice first."""
    return list(_encoders(COLUMNS[column]))


@functools.cache
def column_values(column: str, n_ticks: int = 100_000, seed: int = 8) -> np.ndarray:
    """One symbol's values of ``column`` from the generated session (the busiest symbol)."""
    w = make_workload(n_ticks, 4, seed)
    one = w.code == 0
    v = {"ts": w.ts, "price": w.price, "size": w.size}[column][one]
    v = np.sort(v) if column == "ts" else v  # a block holds its timestamps in order
    v.setflags(write=False)
    return v


def codec_sizes(values: np.ndarray, kind: str, block_points: int) -> dict[str, float]:
    """Bytes per point of ``values`` cut into blocks of ``block_points``, per codec."""
    if block_points <= 0:
        raise ValueError("block_points must be positive")
    blocks = [values[a : a + block_points] for a in range(0, values.size, block_points)]
    n = max(values.size, 1)
    return {name: sum(len(enc(b)) for b in blocks) / n for name, enc in _encoders(kind).items()}


def show_codec_sizes(column: str = "ts", codec: str = STORE, block_points: int = 8192,
                     n_ticks: int = 100_000) -> pd.DataFrame:
    """Plot ``codec``'s bytes per point across block sizes and every codec at ``block_points``;
    return the table for the chosen block size (what the explorer shows)."""
    import matplotlib.pyplot as plt

    kind = COLUMNS[column]
    values = column_values(column, n_ticks)
    if codec not in _encoders(kind):
        codec = STORE
    sizes = sorted(set(BLOCK_SIZES) | {block_points})
    sweep = {b: codec_sizes(values, kind, b) for b in sizes}
    here = sweep[block_points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    left.plot(sizes, [sweep[b][codec] for b in sizes], marker="o", label=codec)
    left.plot(sizes, [sweep[b]["raw (8 bytes)"] for b in sizes], ls="--", color="grey", label="raw")
    left.scatter([block_points], [here[codec]], s=120, facecolors="none", edgecolors="tab:red",
                 label=f"{block_points} points per block")
    left.set_xscale("log", base=2)
    left.set_xlabel("points per block (log scale)")
    left.set_ylabel("bytes per point")
    left.set_ylim(bottom=0)
    left.set_title(f"{column}: {codec}")
    left.legend(fontsize=8)
    names = list(here)
    colors = ["tab:red" if k == codec else "tab:blue" for k in names]
    right.barh(names, [here[k] for k in names], color=colors)
    right.invert_yaxis()
    right.set_xlabel("bytes per point")
    right.set_title(f"{column}, every codec, {block_points} points per block")
    plt.tight_layout()
    plt.show()
    table = pd.DataFrame({"bytes/point": {k: round(v, 3) for k, v in here.items()}})
    table.index.name = f"{column} ({values.size:,} points, blocks of {block_points})"
    return table


def codec_explorer(n_ticks: int = 100_000):
    """A column, a codec and a block size; each move re-encodes and redraws."""
    import ipywidgets as w
    from IPython.display import display

    column = w.Dropdown(options=list(COLUMNS), value="ts", description="column")
    codec = w.Dropdown(options=codec_names("ts"), value=STORE, description="codec",
                       layout=w.Layout(width="420px"))
    block = w.SelectionSlider(options=list(BLOCK_SIZES), value=8192, description="block points")

    def on_column(change) -> None:
        codec.options = codec_names(change["new"])
        codec.value = STORE

    column.observe(on_column, names="value")
    out = w.interactive_output(
        lambda column, codec, block_points: display(show_codec_sizes(column, codec, block_points, n_ticks)),
        {"column": column, "codec": codec, "block_points": block})
    return w.VBox([w.HBox([column, codec, block]), out])
