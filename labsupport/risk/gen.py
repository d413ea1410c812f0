"""Seeded synthetic event streams for the risk engine: marks, orders, fills and cancels.

One generator for the tests, the notebook and the benchmark (``python -m labsupport.risk gen``
writes its output as an event CSV). Same seed, same stream, on every machine: all randomness
comes from one ``numpy.random.Generator`` and prices are integers from the start.

The market: each symbol's mark follows a multiplicative random walk on a 0.01 tick whose
shocks are Student-t with ``tail_df`` degrees of freedom (3 by default: fat tails, the
regime where historical and parametric VaR disagree; ``None`` for normal shocks). The flow:
each account sends limit orders near the mark (a few far outside the collar, a few market
orders, a few oversized, a few on restricted symbols, now and then a duplicated id), some of
which come back as partial or complete fills at their limit price, and some are cancelled.
Fills reference the generated orders whatever the engine decided, so a fill of a rejected or
unknown order happens too, as it does with a drop copy from another gateway.
Timestamps advance by exponential gaps, with bursts, so the order-rate limit is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import RiskEngine
from .events import BUY, CANCEL, FILL, MARK, ORDER, PRICE_SCALE, SELL, Event

__all__ = ["FlowSpec", "generate", "limits_toml"]

TICK = PRICE_SCALE // 100  # 0.01


@dataclass(frozen=True)
class FlowSpec:
    """The knobs of :func:`generate` (probabilities of each kind; the rest is orders)."""

    accounts: int = 5
    symbols: int = 10
    p_mark: float = 0.35
    p_fill: float = 0.2
    p_cancel: float = 0.05
    vol_per_mark: float = 0.002  # typical relative move of one mark
    tail_df: float | None = 3.0
    mean_gap_ns: int = 1_000_000
    burst_prob: float = 0.005 # chance that the next 50 events arrive within ~1 us each
    restricted: tuple[str, ...] = ("S_RESTR",)
    qty_scale: int = 200
    start_price: float = 100.0


def _shock(rng: np.random.Generator, spec: FlowSpec) -> float:
    if spec.tail_df is None:
        return float(rng.standard_normal())
    t = float(rng.standard_t(spec.tail_df))
    return t * ((spec.tail_df - 2) / spec.tail_df) ** 0.5  # unit variance


def generate(n_events: int, spec: FlowSpec | None = None, *, seed: int = 0,
             engine: RiskEngine | None = None) -> list[Event]:
    """``n_events`` events (seq 1..n) following ``spec``.

    Open loop (``engine`` None): any generated order may come back filled, rejected or not,
    which piles up positions no limit would allow. Closed loop: every event is also fed to
    ``engine`` and only accepted orders are filled (plus a stray fill of an unknown id now
    and then), the flow a gateway in front of the market sees."""
    spec = spec or FlowSpec()
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(spec.symbols)]
    accounts = [f"acc{i:02d}" for i in range(spec.accounts)]
    prices = {s: int(spec.start_price * PRICE_SCALE * float(rng.uniform(0.5, 2.0)))
              // TICK * TICK for s in symbols}
    live: list[tuple[str, str, str, int, int, int]] = []  # id, account, symbol, side, qty, px
    out: list[Event] = []
    ts = 0
    burst = 0
    n_orders = 0
    for seq in range(1, n_events + 1):
        if burst:
            burst -= 1
            ts += int(rng.integers(1, 2_000))
        else:
            ts += int(rng.exponential(spec.mean_gap_ns)) + 1
            if rng.random() < spec.burst_prob:
                burst = 50
        u = float(rng.random())
        if u < spec.p_mark:
            s = symbols[int(rng.integers(len(symbols)))]
            p = prices[s] * (1.0 + spec.vol_per_mark * _shock(rng, spec))
            prices[s] = max(TICK, int(round(p / TICK)) * TICK)
            out.append(Event(seq, ts, MARK, symbol=s, price=prices[s]))
            if engine is not None:
                engine.process(out[-1])
            continue
        u -= spec.p_mark
        if u < spec.p_fill and live:
            k = int(rng.integers(len(live)))
            oid, acct, s, side, qty, px = live[k]
            q = qty if rng.random() < 0.5 else int(rng.integers(1, qty + 1))
            stray = engine is not None and rng.random() < 0.01
            out.append(Event(seq, ts, FILL, acct, s, side, q, px, f"x{seq}" if stray else oid))
            if engine is not None:
                engine.process(out[-1])
            if q == qty:
                live[k] = live[-1]
                live.pop()
            else:
                live[k] = (oid, acct, s, side, qty - q, px)
            continue
        u -= spec.p_fill
        if u < spec.p_cancel and live:
            k = int(rng.integers(len(live)))
            oid = live[k][0]
            live[k] = live[-1]
            live.pop()
            out.append(Event(seq, ts, CANCEL, order_id=oid))
            if engine is not None:
                engine.process(out[-1])
            continue
        # An order, mostly ordinary, sometimes one each check exists for.
        acct = accounts[int(rng.integers(len(accounts)))]
        odd = float(rng.random())
        s = spec.restricted[0] if (odd < 0.01 and spec.restricted) else \
            symbols[int(rng.integers(len(symbols)))]
        side = BUY if rng.random() < 0.5 else SELL
        qty = max(1, int(rng.exponential(spec.qty_scale)))
        if 0.01 <= odd < 0.02:
            qty *= 50  # fat finger
        mark = prices.get(s, int(spec.start_price * PRICE_SCALE))
        if 0.02 <= odd < 0.07:
            price = None  # market order
        else:
            off = 0.004 * float(rng.standard_normal())
            if 0.07 <= odd < 0.09:
                off = 0.2 * (1 if rng.random() < 0.5 else -1)  # far outside any collar
            price = max(TICK, int(round(mark * (1 + off) / TICK)) * TICK)
        n_orders += 1
        oid = f"o{n_orders - 1}" if (0.09 <= odd < 0.095 and n_orders > 1) else f"o{n_orders}"
        out.append(Event(seq, ts, ORDER, acct, s, side, qty, price, oid))
        decision = engine.process(out[-1]) if engine is not None else None
        if decision is None or decision.accepted:
            live.append((oid, acct, s, side, qty, price if price is not None else mark))
    return out


def limits_toml(*, capital: int = 1_000_000, max_order_qty: int = 2_000,
                max_order_notional: int = 200_000, price_collar_pct: float = 5,
                max_position: int = 5_000, credit_limit: int = 1_500_000,
                max_orders_per_s: int = 200, var_window: int = 250, var_limit: int = 2_000,
                drawdown_limit: int = 30_000, margin_scan_pct: float = 15,
                margin_utilization_limit: float = 0.25, restricted: tuple[str, ...] = ("S_RESTR",),
                overrides: dict[str, dict[str, object]] | None = None) -> str:
    """A limits file for generated flow: tight enough that every check and alert happens."""
    lines = ["[defaults]", f"capital = {capital}", f"max_order_qty = {max_order_qty}",
             f"max_order_notional = {max_order_notional}",
             f"price_collar_pct = {price_collar_pct}", f"max_position = {max_position}",
             f"credit_limit = {credit_limit}", f"max_orders_per_s = {max_orders_per_s}",
             f"restricted = [{', '.join(repr(s).replace(chr(39), chr(34)) for s in restricted)}]",
             f"var_window = {var_window}", f"var_limit = {var_limit}",
             f"drawdown_limit = {drawdown_limit}", f"margin_scan_pct = {margin_scan_pct}",
             f"margin_utilization_limit = {margin_utilization_limit}"]
    for name, values in (overrides or {}).items():
        lines.append(f"\n[accounts.{name}]")
        for k, v in values.items():
            lines.append(f"{k} = {v!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"
