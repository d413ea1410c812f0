"""The record layouts and codes of the synthetic market data.

Every lab that consumes order flow speaks these numbers, so they live in one place:

* action codes ``ADD=0, CANCEL=1, MODIFY=2`` (an ITCH feed's "A", "D"/"X" and "U" messages),
* side ``BUY=+1, SELL=-1`` (a signed side makes ``side * qty`` the signed volume),
* order type ``LIMIT=0, MARKET=1, IOC=2, FOK=3``,
* prices are integer ticks of one cent: ``PRICE_SCALE = 100`` ticks per dollar. Engines never
  see a float price; a decimal only appears in the DataFrame views and the CSV.

The structured dtypes are packed (no padding), so ``events.tobytes()`` is a stable
fingerprint of a stream and the arrays can be memory-mapped or sent as-is.

Tickers are fictional four-letter names with fixed reference prices between about $10 and
$500, so "symbol 0" is the same instrument in every notebook, whatever the seed.
"""

from __future__ import annotations

import numpy as np

# -- codes ---------------------------------------------------------------------------------------
ADD, CANCEL, MODIFY = 0, 1, 2
BUY, SELL = 1, -1
LIMIT, MARKET, IOC, FOK = 0, 1, 2, 3
PRICE_SCALE = 100  # ticks per dollar: tick size $0.01

ACTION_NAMES: tuple[str, ...] = ("add", "cancel", "modify")
TYPE_NAMES: tuple[str, ...] = ("limit", "market", "ioc", "fok")
SIDE_NAMES: dict[int, str] = {BUY: "buy", SELL: "sell"}

# -- record layouts ------------------------------------------------------------------------------
EVENT_DTYPE = np.dtype(
    [
        ("seq", "u8"),  # 1..N in time order
        ("ts_ns", "i8"),  # nanoseconds since the Unix epoch (UTC)
        ("symbol", "u2"),  # index into OrderFlow.symbols
        ("action", "u1"),  # ADD / CANCEL / MODIFY
        ("order_id", "u8"),  # unique per add, increasing with add time
        ("side", "i1"),  # BUY=+1 / SELL=-1 (cancels and modifies carry the order's side)
        ("type", "u1"),  # LIMIT / MARKET / IOC / FOK (LIMIT on cancels and modifies)
        ("price_ticks", "i8"),  # cents; 0 for market orders and cancels
        ("qty", "i4"),  # shares; for a modify the new remaining quantity; 0 for cancels
        ("account", "u2"),  # 1..n_accounts
    ]
)

TRADE_DTYPE = np.dtype(
    [
        ("ts_ns", "i8"),
        ("symbol", "u2"),
        ("price_ticks", "i8"),
        ("qty", "i4"),
        ("side", "i1"),  # aggressor side: BUY lifted the ask, SELL hit the bid
    ]
)

QUOTE_DTYPE = np.dtype(
    [
        ("ts_ns", "i8"),
        ("symbol", "u2"),
        ("bid_ticks", "i8"),
        ("ask_ticks", "i8"),
        ("bid_qty", "i4"),
        ("ask_qty", "i4"),
    ]
)

# -- the session clock ---------------------------------------------------------------------------
# Wednesday 2025-01-15 09:30:00 America/New_York (EST, UTC-5) = 14:30:00 UTC, in ns since the
# Unix epoch. A fixed date keeps every stream identical; a test checks the arithmetic.
SESSION_OPEN_NS = 1_736_951_400_000_000_000
NS_PER_S = 1_000_000_000

# -- the instruments -----------------------------------------------------------------------------
# Fictional tickers with fixed reference (opening) prices in dollars.
_TICKER_TABLE: tuple[tuple[str, float], ...] = (
    ("ACME", 187.42), ("BOLT", 42.18), ("CRUX", 12.67), ("DYNA", 318.05),
    ("EMBR", 96.31), ("FLUX", 455.20), ("GRID", 23.74), ("HALO", 141.09),
    ("IONX", 67.88), ("JADE", 10.52), ("KITE", 254.63), ("LUMA", 33.15),
    ("MESA", 78.40), ("NOVA", 402.77), ("ORCA", 15.93), ("PIKE", 121.56),
    ("QUIL", 58.02), ("RUNE", 211.44), ("SILO", 27.81), ("TIDE", 489.99),
    ("UMBR", 44.60), ("VOLT", 163.27), ("WREN", 19.38), ("XENO", 352.12),
    ("YARD", 88.75), ("ZEST", 36.49),
)  # fmt: skip
MAX_SYMBOLS = 65_535  # symbol is a u2


def tickers(n_symbols: int) -> tuple[str, ...]:
    """The first ``n_symbols`` tickers; beyond the named table they are ``S0027``, ``S0028``..."""
    names = [t for t, _ in _TICKER_TABLE[:n_symbols]]
    names += [f"S{k + 1:04d}" for k in range(len(names), n_symbols)]
    return tuple(names)


def reference_prices_ticks(n_symbols: int) -> np.ndarray:
    """Opening price of each symbol in ticks (int64), fixed whatever the seed.

    Past the named table the price is log-uniform over $10..$500, placed by the golden-ratio
    sequence so consecutive symbols are spread out rather than random.
    """
    out = np.empty(n_symbols, dtype=np.int64)
    for k in range(n_symbols):
        if k < len(_TICKER_TABLE):
            dollars = _TICKER_TABLE[k][1]
        else:
            frac = (k * 0.6180339887498949) % 1.0
            dollars = 10.0 * 50.0**frac
        out[k] = round(dollars * PRICE_SCALE)
    return out
