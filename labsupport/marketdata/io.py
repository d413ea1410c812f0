"""DataFrame views of a generated flow, the event CSV of Lab 02, and Parquet.

The event CSV has exactly the columns ``seq,symbol,action,order_id,side,type,price,qty,account``
with one row per event, in the style of a replay file an exchange simulator reads:

====================  =============================================================
row kind              example
====================  =============================================================
add, limit/ioc/fok    ``17,ACME,add,12,buy,limit,187.40,300,4``
add, market           ``18,ACME,add,13,sell,market,,100,9``  (no price)
cancel                ``19,ACME,cancel,7,,,,,``  (only seq, symbol, action, order_id)
modify                ``20,ACME,modify,12,,,187.41,200,``  (new price, new remaining qty)
====================  =============================================================

Prices are decimal strings with exactly two decimals, built from the integer ticks with
integer arithmetic (no float rounding can creep in). The writer hands typed columns to
Arrow's CSV writer. ``read_events_csv`` parses such a file back
into the event dtype (``ts_ns`` is not in the CSV and comes back as 0; fields a row leaves
empty come back as 0, and a cancel or modify's side is recovered from its order's add).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import MarketDataError
from .schema import (
    ACTION_NAMES,
    ADD,
    BUY,
    CANCEL,
    EVENT_DTYPE,
    MARKET,
    MODIFY,
    PRICE_SCALE,
    SELL,
    TYPE_NAMES,
)

if TYPE_CHECKING:
    from .flow import OrderFlow

CSV_HEADER = "seq,symbol,action,order_id,side,type,price,qty,account"
_SIDE_CATEGORIES = ("buy", "sell")


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=list(names))


def _side(side: np.ndarray) -> pd.Categorical:
    return _categorical((side == SELL).astype(np.int8), _SIDE_CATEGORIES)


def _dollars(ticks: np.ndarray) -> np.ndarray:
    return ticks / PRICE_SCALE


def events_frame(flow: OrderFlow) -> pd.DataFrame:
    """One row per event; ``price`` in dollars, NaN where the event carries no price."""
    ev = flow.events
    has_price = ev["price_ticks"] != 0
    return pd.DataFrame(
        {
            "seq": ev["seq"],
            "ts_ns": ev["ts_ns"],
            "symbol": _categorical(ev["symbol"], flow.symbols),
            "action": _categorical(ev["action"], ACTION_NAMES),
            "order_id": ev["order_id"],
            "side": _side(ev["side"]),
            "type": _categorical(ev["type"], TYPE_NAMES),
            "price": np.where(has_price, _dollars(ev["price_ticks"]), np.nan),
            "price_ticks": ev["price_ticks"],
            "qty": ev["qty"],
            "account": ev["account"],
        }
    )


def trades_frame(flow: OrderFlow) -> pd.DataFrame:
    """The model's trades: ts_ns, symbol, price ($), price_ticks, qty, side (aggressor)."""
    tr = flow.trades
    return pd.DataFrame(
        {
            "ts_ns": tr["ts_ns"],
            "symbol": _categorical(tr["symbol"], flow.symbols),
            "price": _dollars(tr["price_ticks"]),
            "price_ticks": tr["price_ticks"],
            "qty": tr["qty"],
            "side": _side(tr["side"]),
        }
    )


def quotes_frame(flow: OrderFlow) -> pd.DataFrame:
    """The model's quotes: ts_ns, symbol, bid/ask ($), bid_ticks/ask_ticks, bid_qty/ask_qty."""
    q = flow.quotes
    return pd.DataFrame(
        {
            "ts_ns": q["ts_ns"],
            "symbol": _categorical(q["symbol"], flow.symbols),
            "bid": _dollars(q["bid_ticks"]),
            "ask": _dollars(q["ask_ticks"]),
            "bid_ticks": q["bid_ticks"],
            "ask_ticks": q["ask_ticks"],
            "bid_qty": q["bid_qty"],
            "ask_qty": q["ask_qty"],
        }
    )


def ticks_frame(flow: OrderFlow) -> pd.DataFrame:
    """Trades as ticks for a time-series store: ts_ns, symbol, price (float $), size."""
    tr = flow.trades
    return pd.DataFrame(
        {
            "ts_ns": tr["ts_ns"],
            "symbol": _categorical(tr["symbol"], flow.symbols),
            "price": _dollars(tr["price_ticks"]),
            "size": tr["qty"],
        }
    )


# -- CSV ------------------------------------------------------------------------------------------
def _price_decimals(ticks: np.ndarray, valid: np.ndarray | None = None):  # -> pa.Array
    """Integer ticks as an Arrow decimal128(18, 2) array: the unscaled value *is* the tick
    count, so formatting is exact integer arithmetic inside Arrow (no float rounding)."""
    import pyarrow as pa

    ticks = np.ascontiguousarray(ticks, dtype=np.int64)
    words = np.empty((len(ticks), 2), dtype=np.int64)  # little-endian 128-bit two's complement
    words[:, 0] = ticks
    words[:, 1] = ticks >> 63
    bitmap = None if valid is None else pa.array(valid, type=pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(ticks), [bitmap, pa.py_buffer(words)])


def format_price(ticks: np.ndarray) -> list[str]:
    """Decimal strings with two decimals for integer ticks: 18742 -> '187.42'."""
    import pyarrow as pa

    return _price_decimals(np.asarray(ticks)).cast(pa.string()).to_pylist()


def events_table(flow: OrderFlow):  # -> pa.Table
    """The CSV's columns as an Arrow table; a null becomes an empty CSV field."""
    import pyarrow as pa

    ev = flow.events
    action, kind = ev["action"], ev["type"]
    is_add = action == ADD
    has_price = (action == MODIFY) | (is_add & (kind != MARKET))

    def names(codes: np.ndarray, labels: tuple[str, ...], valid: np.ndarray | None = None):
        idx = pa.array(codes.astype(np.int32), mask=None if valid is None else ~valid)
        return pa.DictionaryArray.from_arrays(idx, pa.array(list(labels), pa.string()))

    return pa.table(
        {
            "seq": ev["seq"],
            "symbol": names(ev["symbol"], flow.symbols),
            "action": names(action, ACTION_NAMES),
            "order_id": ev["order_id"],
            "side": names((ev["side"] == SELL).astype(np.int8), _SIDE_CATEGORIES, is_add),
            "type": names(kind, TYPE_NAMES, is_add),
            "price": _price_decimals(ev["price_ticks"], has_price),
            "qty": pa.array(ev["qty"], mask=action == CANCEL),
            "account": pa.array(ev["account"], mask=~is_add),
        }
    )


def write_events_csv(flow: OrderFlow, path: str | os.PathLike[str]) -> int:
    """Write the Lab 02 event CSV (header + one row per event, ``\\n`` line ends); returns rows.

    Formatting is done by Arrow's CSV writer over typed columns (dictionary-encoded names,
    decimal prices, nulls for empty fields): several million rows a second.
    """
    import pyarrow.csv as pa_csv

    table = events_table(flow)
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as f:
        f.write(CSV_HEADER.encode("ascii") + b"\n")
        pa_csv.write_csv(table, f, options)
    return table.num_rows


class EventCsvError(MarketDataError, ValueError):
    """Raised by :func:`read_events_csv` when a file is not an event CSV; says where."""


def _codes(
    values: np.ndarray, names: tuple[str, ...], field: str, rows: np.ndarray, where: str
) -> np.ndarray:
    """Map strings to their index in ``names`` on the rows that must carry them (0 elsewhere)."""
    lookup = {name: i for i, name in enumerate(names)}
    uniq, inverse = np.unique(values, return_inverse=True)
    codes = np.array([lookup.get(u, -1) for u in uniq.tolist()], dtype=np.int64)[inverse]
    bad = np.flatnonzero(rows & (codes < 0))
    if len(bad):
        i = int(bad[0])
        raise EventCsvError(
            f"{where}: line {i + 2}: {field}={str(values[i])!r}, expected one of {names}"
        )
    return np.where(rows, codes, 0)


def read_events_csv(
    path: str | os.PathLike[str], symbols: tuple[str, ...] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Parse an event CSV back into (events array, symbols); see the module docstring.

    ``symbols`` fixes the symbol order (the flow's ``symbols``); by default it is the order of
    first appearance in the file.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    where = os.fspath(path)
    if list(df.columns) != CSV_HEADER.split(","):
        raise EventCsvError(f"{where}: header {','.join(df.columns)!r}, expected {CSV_HEADER!r}")
    col = {name: df[name].to_numpy(dtype=object).astype(str) for name in df.columns}
    if symbols is None:
        symbols = tuple(dict.fromkeys(col["symbol"].tolist()))
    n = len(df)
    every = np.ones(n, dtype=bool)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    try:
        ev["seq"] = col["seq"].astype(np.uint64)
        ev["order_id"] = col["order_id"].astype(np.uint64)
    except ValueError as exc:
        raise EventCsvError(f"{where}: seq and order_id must be integers ({exc})") from None
    ev["symbol"] = _codes(col["symbol"], symbols, "symbol", every, where)
    action = _codes(col["action"], ACTION_NAMES, "action", every, where)
    ev["action"] = action
    is_add, has_px = action == ADD, action != CANCEL
    ev["type"] = _codes(col["type"], TYPE_NAMES, "type", is_add, where)
    side = np.where(_codes(col["side"], _SIDE_CATEGORIES, "side", is_add, where) == 0, BUY, SELL)
    # a cancel or modify carries the side of the order it refers to (ids increase with adds)
    add_ids, add_side = ev["order_id"][is_add], side[is_add]
    if len(add_ids):
        idx = np.clip(np.searchsorted(add_ids, ev["order_id"]), 0, len(add_ids) - 1)
        known = add_ids[idx] == ev["order_id"]
        side = np.where(is_add | ~known, side, add_side[idx])
    ev["side"] = side

    def numbers(name: str, rows: np.ndarray) -> np.ndarray:
        text = np.where(rows & (col[name] != ""), col[name], "0")
        try:
            return text.astype(np.float64)
        except ValueError as exc:
            raise EventCsvError(f"{where}: column {name}: {exc}") from None

    ev["price_ticks"] = np.rint(numbers("price", has_px) * PRICE_SCALE).astype(np.int64)
    ev["qty"] = numbers("qty", has_px).astype(np.int32)
    ev["account"] = numbers("account", is_add).astype(np.uint16)
    return ev, symbols


# -- Parquet --------------------------------------------------------------------------------------
def write_parquet(
    frame: pd.DataFrame, path: str | os.PathLike[str], compression: str = "zstd"
) -> None:
    """Write a DataFrame to Parquet with pyarrow (categoricals become dictionary columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression=compression)


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet` back into the same DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()
