"""Risk limits per account, read from TOML: ``[defaults]`` plus ``[accounts.NAME]`` overrides.

Mirrors a broker's limit file for its market-access controls (SEC Rule 15c3-5 asks for
"pre-set credit or capital thresholds" and "erroneous order" checks per customer)::

    [defaults]
    capital = 1_000_000          # equity at the start, currency
    max_order_qty = 5_000        # shares per order (integer)
    max_order_notional = 250_000 # qty x price per order, currency
    price_collar_pct = 5         # limit price at most 5 % from the last mark
    max_position = 20_000        # |shares| per symbol, open orders included (integer)
    credit_limit = 2_000_000     # gross exposure plus the order's notional
    max_orders_per_s = 50        # orders per sliding second, rejected ones included (integer)
    restricted = ["XYZ"]         # symbols nobody may trade
    var_window = 250             # equity changes in the historical VaR window (integer)
    var_limit = 25_000           # alert levels: 80 % warn, 100 % breach, clear below 70 %
    drawdown_limit = 50_000      # a drawdown breach also halts the account
    margin_scan_pct = 15         # SPAN-style scan range: margin = gross exposure x 15 %
    margin_utilization_limit = 0.8

    [accounts.acc7]
    max_order_qty = 100          # only what differs from [defaults]

A key missing from ``[defaults]`` takes :data:`BUILTIN` (generous values: a file of one
override works). Numbers are read as exact decimals (``tomllib`` with ``parse_float=Decimal``):
``0.1`` is one tenth, not 0.1000000000000000055. Money limits are converted once to integer
money units (so at most 8 decimal places); percentages and the utilization limit stay exact
fractions and the checks cross-multiply, so no comparison ever rounds.

An unknown key, a wrong type (``max_order_qty = 1.5``, ``restricted = "XYZ"``), a negative
value or a zero alert limit raises :class:`LimitsError` naming the key and the table.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from .events import MONEY_DP, MONEY_SCALE, RiskError

__all__ = ["BUILTIN", "INT_KEYS", "NUMBER_KEYS", "Limits", "LimitsError", "LimitsFile",
           "load_limits", "parse_limits"]

INT_KEYS = ("max_order_qty", "max_position", "max_orders_per_s", "var_window")
NUMBER_KEYS = ("capital", "max_order_notional", "price_collar_pct", "credit_limit", "var_limit",
               "drawdown_limit", "margin_scan_pct", "margin_utilization_limit")
MONEY_KEYS = ("capital", "max_order_notional", "credit_limit", "var_limit", "drawdown_limit")
ALERT_KEYS = ("var_limit", "drawdown_limit", "margin_utilization_limit", "credit_limit")
BUILTIN: dict[str, Any] = {
    "capital": Decimal(1_000_000), "max_order_qty": 10_000,
    "max_order_notional": Decimal(1_000_000), "price_collar_pct": Decimal(10),
    "max_position": 100_000, "credit_limit": Decimal(10_000_000), "max_orders_per_s": 1_000,
    "restricted": (), "var_window": 250, "var_limit": Decimal(100_000),
    "drawdown_limit": Decimal(200_000), "margin_scan_pct": Decimal(15),
    "margin_utilization_limit": Decimal(1),
}


class LimitsError(RiskError):
    """The limits file is wrong: bad TOML, an unknown key, a wrong type or value. The message
    names the table (``[defaults]`` or ``[accounts.NAME]``) and the key."""


@dataclass(frozen=True, slots=True)
class Limits:
    """One account's limits: ``raw`` as written (exact decimals), the rest in engine units."""

    raw: dict[str, Any]
    capital: int  # money units
    max_order_qty: int
    max_order_notional: int  # money units
    collar: Fraction  # price_collar_pct / 100
    max_position: int
    credit_limit: int  # money units
    max_orders_per_s: int
    restricted: frozenset[str]
    var_window: int
    var_limit: int  # money units
    drawdown_limit: int  # money units
    scan: Fraction  # margin_scan_pct / 100
    utilization_limit: Fraction
    # The collar as two ints: Fraction.numerator is a Python-level property, and reading two
    # per order made the collar comparison about twice as slow (timeit, CPython 3.11).
    collar_num: int = 0
    collar_den: int = 1

    @classmethod
    def from_raw(cls, raw: dict[str, Any], table: str) -> Limits:
        def money(key: str) -> int:
            units = raw[key].scaleb(MONEY_DP) if isinstance(raw[key], Decimal) else \
                Decimal(raw[key]) * MONEY_SCALE
            if units != units.to_integral_value():
                raise LimitsError(f"{table} key {key}: {raw[key]} is finer than "
                                  f"{MONEY_DP} decimal places")
            return int(units)

        for key in ALERT_KEYS:
            if raw[key] == 0:
                raise LimitsError(f"{table} key {key}: an alert limit must be > 0")
        if raw["var_window"] < 2:
            raise LimitsError(f"{table} key var_window: must be at least 2")
        collar = Fraction(raw["price_collar_pct"]) / 100
        return cls(dict(raw), money("capital"), raw["max_order_qty"],
                   money("max_order_notional"), collar,
                   raw["max_position"], money("credit_limit"), raw["max_orders_per_s"],
                   frozenset(raw["restricted"]), raw["var_window"], money("var_limit"),
                   money("drawdown_limit"), Fraction(raw["margin_scan_pct"]) / 100,
                   Fraction(raw["margin_utilization_limit"]), collar.numerator,
                   collar.denominator)


def _show(value: Any) -> str:
    """A value as the TOML had it (a Decimal prints as its digits, not ``Decimal('2.5')``)."""
    return str(value) if isinstance(value, Decimal) else repr(value)


def _check(table: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise LimitsError(f"{table}: expected a table of limits, got {values!r}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in INT_KEYS:
            if type(value) is not int:
                raise LimitsError(f"{table} key {key}: expected an integer, got {_show(value)}")
        elif key in NUMBER_KEYS:
            if type(value) is int:
                value = Decimal(value)
            elif not isinstance(value, Decimal) or not value.is_finite():
                raise LimitsError(f"{table} key {key}: expected a number, got {_show(value)}")
        elif key == "restricted":
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise LimitsError(f"{table} key {key}: expected a list of symbols, "
                                  f"got {value!r}")
            value = tuple(value)
        else:
            raise LimitsError(f"{table} key {key}: unknown limit (known: "
                              f"{', '.join(sorted(BUILTIN))})")
        if key != "restricted" and value < 0:
            raise LimitsError(f"{table} key {key}: must not be negative, got {value}")
        out[key] = value
    return out


@dataclass(slots=True)
class LimitsFile:
    """The whole file: defaults and per-account overrides; :meth:`for_account` resolves."""

    defaults: dict[str, Any]
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cache: dict[str, Limits] = field(default_factory=dict)

    def for_account(self, account: str) -> Limits:
        lim = self._cache.get(account)
        if lim is None:
            table = f"[accounts.{account}]" if account in self.accounts else "[defaults]"
            raw = {**self.defaults, **self.accounts.get(account, {})}
            lim = self._cache[account] = Limits.from_raw(raw, table)
        return lim


def parse_limits(text: str) -> LimitsFile:
    """Parse TOML text; every account table is validated now, not at its first order."""
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise LimitsError(f"not TOML: {exc}") from None
    for key in doc:
        if key not in ("defaults", "accounts"):
            raise LimitsError(f"[{key}]: unknown table (expected [defaults] and [accounts.NAME])")
    lf = LimitsFile({**BUILTIN, **_check("[defaults]", doc.get("defaults", {}))})
    Limits.from_raw(lf.defaults, "[defaults]")
    accounts = doc.get("accounts", {})
    if not isinstance(accounts, dict):
        raise LimitsError("accounts: expected [accounts.NAME] tables")
    for name, values in accounts.items():
        lf.accounts[name] = _check(f"[accounts.{name}]", values)
        lf.for_account(name)
    return lf


def load_limits(path: str | Path) -> LimitsFile:
    """:func:`parse_limits` on a file; errors name the file."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return parse_limits(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LimitsError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except LimitsError as exc:
        raise LimitsError(f"{path}: {exc}") from None
