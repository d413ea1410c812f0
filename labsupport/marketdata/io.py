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
Arrow's CSV writer. Reading such a file is Lab 02's job: its strict row parser
(``labsupport.orderbook.csvio.read_events``) names the line and field of a bad row.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .schema import (
    ACTION_NAMES,
    ADD,
    CANCEL,
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
