"""Lab 08: a time-series database for tick data (LSM write path, Gorilla compression).

Modules, in the order data flows: bits.py (vectorised bit streams), kernels.py (optional
numba loops), prefix.py (codec ids, prefix codes), gorilla.py (delta-of-delta and XOR),
codecs.py (per-column choice, decoding by id), wal.py, memtable.py, segment.py, query.py,
recovery.py (what opening a directory repairs),
compaction.py, db.py; then __main__.py (command line), bench.py, explain.py, explore.py (the
notebook's codec explorer), crashdemo.py (the kill -9 scenarios the notebook and the tests run).

Public surface:
- :class:`TickDB` (db.py): WAL + memtable + segments + compaction + queries
- codecs (codecs.py): ``encode_ts``/``decode_ts`` (delta-of-delta), ``encode_xor``/``decode_xor``
  (Gorilla XOR), ``encode_int``/``decode_int`` (zigzag + bit packing), ``encode_grid`` (tick grid)
- :func:`fold_bars` (query.py): OHLCV + VWAP from time-ordered chunks
- errors (errors.py): :class:`TsdbError` and its subclasses, one per cause
"""

from .codecs import (
    CodecError,
    decode_column,
    decode_grid,
    decode_int,
    decode_ts,
    decode_xor,
    encode_float,
    encode_grid,
    encode_int,
    encode_ts,
    encode_xor,
    grid_exponent,
)
from .db import DEFAULT_COLUMNS, RecoveryReport, TickDB
from .errors import (
    BadInputError,
    ConfigError,
    DatabaseLockedError,
    SchemaError,
    SegmentCorruptError,
    TsdbError,
    WalRecordError,
)
from .query import BAR_COLUMNS, fold_bars
from .segment import Segment

__all__ = [
    "BAR_COLUMNS",
    "BadInputError",
    "ConfigError",
    "DEFAULT_COLUMNS",
    "CodecError",
    "DatabaseLockedError",
    "RecoveryReport",
    "SchemaError",
    "Segment",
    "SegmentCorruptError",
    "TickDB",
    "TsdbError",
    "WalRecordError",
    "decode_column",
    "decode_grid",
    "decode_int",
    "decode_ts",
    "decode_xor",
    "encode_float",
    "encode_grid",
    "encode_int",
    "encode_ts",
    "encode_xor",
    "fold_bars",
    "grid_exponent",
]
