"""The compiled risk engine: the same checks, metrics, VaR and alerts, on int64 arrays.

:class:`KernelRiskEngine` answers like :class:`~.engine.RiskEngine` (``process``, ``run``,
``alerts``, ``metrics``, ``touched``, ...) and is held to it, and to the from-scratch
reference, event by event in the tests. What changes is where the state lives: not in one
Python object per account and position but in a few int64 arrays (:mod:`._nbrisk` names their
columns), so a mark is a compiled loop over the symbol's holder array instead of ~1.4 us of
bytecode per holder, and a run of events is one call into the kernel (Numba's dispatch costs
more than a compiled mark; Lab 11 batches for the same reason).

Why integers and exact limits: every comparison in the risk engine is exact (a value at the
limit passes, one unit over fails), which is why prices are price units and money is money
units (:mod:`.events`). The kernel keeps that: limits are converted once, here, to int64 in
the same units, and a limit that int64 cannot hold with room for the kernel's products is
refused with :class:`~.limits.LimitsError` naming the key, rather than rounded. At run time a
value that would leave the exact range (money beyond ``MONEY_MAX`` units, a position beyond
``POS_MAX``, a price beyond ``PRICE_MAX``) stops the run at that event with
:class:`KernelRangeError`, the events before it applied; the pure-Python engine, whose
integers are unbounded, has no such limit.

Per batch: the events are encoded column by column (accounts, symbols and order ids interned
to array indices, new ones growing the arrays), :func:`._nbrisk.run` applies them, and the
alert rows it wrote are turned into :class:`~.alerts.Alert` objects (value text computed from
the integers, an event's alerts listed by account name as the Python engine does). A
decision's ``at_ns`` is the clock read once when its batch returns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from itertools import compress

import numpy as np

from labsupport.orderbook.pnl import COST_SCALE

from . import _nbrisk as nb
from .alerts import METRICS, Alert
from .checks import REASONS
from .engine import LIMIT_KEYS, Decision
from .events import MONEY_SCALE, Event, RiskError, decimal_text
from .events import format_money as _money
from .limits import Limits, LimitsError, LimitsFile, parse_limits
from .positions import Metrics

__all__ = ["LIMIT_MAX", "WINDOW_MAX", "KernelRangeError", "KernelRiskEngine", "account_row",
           "warm_up"]

INT64_MAX = (1 << 63) - 1
LIMIT_MAX = 1 << 62  # a limit (money units): room for a value of MONEY_MAX beside it
WINDOW_MAX = 1 << 16  # var_window
_SMALL = 8  # batches up to this size are encoded in plain Python (see _encode_few)
_KINDS = {"order": nb.K_ORDER, "cancel": nb.K_CANCEL, "fill": nb.K_FILL, "mark": nb.K_MARK}
_REASON = ("", *REASONS)
_LEVEL = ("", "warn", "breach", "clear")
assert nb.COST_SCALE == COST_SCALE and nb.MONEY_SCALE_F == MONEY_SCALE


def _out_of_range(ev: Event) -> bool:
    return not (0 <= ev.qty <= nb.POS_MAX and 0 <= (ev.price or 0) <= nb.PRICE_MAX
                and 0 <= ev.ts_ns <= INT64_MAX)


def _range_text(ev: Event) -> str:
    return (f"event {ev.seq}: qty {ev.qty}, price {ev.price} or ts_ns {ev.ts_ns} is outside "
            f"the numba engine's exact range (qty <= {nb.POS_MAX}, price <= {nb.PRICE_MAX} "
            f"units); use engine='python'")


class KernelRangeError(RiskError):
    """A value would leave the compiled engine's exact int64 range (the event is not applied;
    :attr:`decisions` holds those of the batch's orders before it, which were)."""

    decisions: list[Decision] = []


def _fit(table: str, key: str, value: int, bound: int, shown: object = None) -> int:
    if not 0 <= value <= bound:
        raise LimitsError(f"{table} key {key}: {shown if shown is not None else value} is "
                          f"outside the numba engine's exact int64 range (at most {bound} in "
                          f"its units); use engine='python'")
    return value


def _lines(limit: int) -> tuple[int, int, int]:
    """10 x v >= k x limit  <=>  v >= ceil(k x limit / 10), for k = 7, 8, 10."""
    return -(-7 * limit // 10), -(-8 * limit // 10), limit


def account_row(lim: Limits, table: str) -> np.ndarray:
    """One account's limits as the kernel's integers (columns ``A_*`` of :mod:`._nbrisk`),
    exactly, or :class:`LimitsError` naming the key that int64 cannot hold."""
    raw, mm = lim.raw, LIMIT_MAX
    row = np.zeros(nb.A_COLS, dtype=np.int64)
    row[nb.A_BASE] = row[nb.A_PEAK] = _fit(table, "capital", lim.capital, nb.MONEY_MAX,
                                                 raw["capital"])
    row[nb.A_MAXQ] = _fit(table, "max_order_qty", lim.max_order_qty, INT64_MAX)
    row[nb.A_MAXNPU] = _fit(table, "max_order_notional", lim.max_order_notional, mm,
                            raw["max_order_notional"]) // COST_SCALE
    row[nb.A_CNUM] = _fit(table, "price_collar_pct", lim.collar_num, INT64_MAX // 4,
                          raw["price_collar_pct"])
    row[nb.A_CDEN] = _fit(table, "price_collar_pct", lim.collar_den, INT64_MAX // 4,
                          raw["price_collar_pct"])
    row[nb.A_MAXPOS] = _fit(table, "max_position", lim.max_position, INT64_MAX // 4)
    row[nb.A_CREDIT] = _fit(table, "credit_limit", lim.credit_limit, mm, raw["credit_limit"])
    row[nb.A_MAXRATE] = _fit(table, "max_orders_per_s", lim.max_orders_per_s, INT64_MAX)
    dd = _fit(table, "drawdown_limit", lim.drawdown_limit, mm, raw["drawdown_limit"])
    v = _fit(table, "var_limit", 100 * lim.var_limit, mm, raw["var_limit"])
    row[nb.A_DD7:nb.A_DD10 + 1] = _lines(dd)
    row[nb.A_V7:nb.A_V10 + 1] = _lines(v)
    row[nb.A_G7:nb.A_G10 + 1] = _lines(lim.credit_limit)
    scan, u = lim.scan, lim.utilization_limit  # margin / eq >= u  <=>  gross a >= b eq
    ua, ub = scan.numerator * u.denominator, u.numerator * scan.denominator
    row[nb.A_UA10] = _fit(table, "margin_scan_pct", 10 * ua, INT64_MAX, raw["margin_scan_pct"])
    row[nb.A_UB] = _fit(table, "margin_utilization_limit", 10 * ub, INT64_MAX,
                        raw["margin_utilization_limit"]) // 10
    w = row[nb.A_W] = _fit(table, "var_window", lim.var_window, WINDOW_MAX)
    lo, rem = divmod((w - 1) * 5, 100)
    row[nb.A_LO], row[nb.A_REM], row[nb.A_NEED] = lo, rem, lo + 2
    row[nb.A_CAP] = 2 * (lo + 2) + 8
    row[nb.A_HEAD] = -1
    return row


class _Interner(dict):
    """Names to consecutive indices: a lookup of a new name gives it the next one."""

    def __missing__(self, key: str) -> int:
        i = self[key] = len(self)
        return i


class _Flat:
    """A growable int64 buffer handing out per-account slices (the VaR rings, tails, rates)."""

    def __init__(self) -> None:
        self.data = np.zeros(1024, dtype=np.int64)
        self.used = 0

    def take(self, n: int) -> int:
        if self.used + n > len(self.data):
            grown = np.zeros(max(2 * len(self.data), self.used + n), dtype=np.int64)
            grown[:self.used] = self.data[:self.used]
            self.data = grown
        off, self.used = self.used, self.used + n
        return off


class KernelRiskEngine:
    """:class:`~.engine.RiskEngine`'s interface on the compiled kernel (see the module's
    docstring). ``limits``: a :class:`LimitsFile` or TOML text; ``clock``: nanoseconds."""

    def __init__(self, limits: LimitsFile | str = "", *,
                 clock: Callable[[], int] = time.perf_counter_ns) -> None:
        self.limits = parse_limits(limits) if isinstance(limits, str) else limits
        self.clock = clock
        for name in self.limits.accounts:  # refuse now what int64 cannot hold, not later
            account_row(self.limits.for_account(name), f"[accounts.{name}]")
        account_row(Limits.from_raw(self.limits.defaults, "[defaults]"), "[defaults]")
        self.accounts: dict[str, int] = _Interner()  # name -> row of the arrays
        self.symbols: dict[str, int] = _Interner()
        self.order_ids: dict[str, int] = _Interner()
        self._names: list[str] = []
        self._limits: list[Limits] = []
        self.acc = np.zeros((0, nb.A_COLS), dtype=np.int64)
        self.s2 = np.zeros(0)
        self.pos = np.zeros((nb.P_PLANES, 0, 0), dtype=np.int64)
        self.hold = np.zeros((0, 0), dtype=np.int64)
        self.sym = np.zeros((0, nb.S_COLS), dtype=np.int64)
        self.oid = np.zeros((0, nb.O_COLS), dtype=np.int64)
        self.touched_buf = np.zeros(0, dtype=np.int64)
        self.alert_buf = np.zeros((0, 6), dtype=np.int64)
        self.meta = np.zeros(nb.M_COLS, dtype=np.int64)
        self._ring, self._tail, self._rate = _Flat(), _Flat(), _Flat()
        self.alerts: list[Alert] = []
        self.events = 0
        self._reserve(16, 16, 1024)

    # ------------------------------------------------------------------ arrays
    def _reserve(self, n_acc: int, n_sym: int, n_oid: int) -> None:
        """Grow every array (capacities doubling) to hold these many of each."""
        ca, cs = self.acc.shape[0], self.sym.shape[0]
        if n_acc > ca or n_sym > cs:
            na, ns = max(ca, n_acc, 2 * ca if n_acc > ca else 0), \
                max(cs, n_sym, 2 * cs if n_sym > cs else 0)
            acc = np.zeros((na, nb.A_COLS), dtype=np.int64)
            acc[:ca] = self.acc
            s2 = np.zeros(na)
            s2[:ca] = self.s2
            pos = np.zeros((nb.P_PLANES, na, ns), dtype=np.int64)
            pos[nb.P_HIDX] = -1
            pos[:, :ca, :cs] = self.pos
            hold = np.zeros((ns, na), dtype=np.int64)
            hold[:cs, :ca] = self.hold
            sym = np.zeros((ns, nb.S_COLS), dtype=np.int64)
            sym[:cs] = self.sym
            self.acc, self.s2, self.pos, self.hold, self.sym = acc, s2, pos, hold, sym
            self.touched_buf = np.zeros(na, dtype=np.int64)
            self.alert_buf = np.zeros((max(4096, 8 * na), 6), dtype=np.int64)
        co = self.oid.shape[0]
        if n_oid > co:
            oid = np.zeros((max(n_oid, 2 * co), nb.O_COLS), dtype=np.int64)
            oid[:co] = self.oid
            self.oid = oid

    def _new_account(self, name: str) -> None:
        a = len(self._names)
        table = f"[accounts.{name}]" if name in self.limits.accounts else "[defaults]"
        lim = self.limits.for_account(name)
        row = account_row(lim, table)
        row[nb.A_ROFF] = self._ring.take(int(row[nb.A_W]))
        row[nb.A_TOFF] = self._tail.take(int(row[nb.A_CAP]) + 1)
        row[nb.A_QCAP] = min(int(row[nb.A_MAXRATE]), 128)
        row[nb.A_QOFF] = self._rate.take(int(row[nb.A_QCAP]))
        self._reserve(a + 1, len(self.symbols), 0)
        self.acc[a] = row
        self._names.append(name)
        self._limits.append(lim)
        for s_name in lim.restricted:
            s = self.symbols.get(s_name)
            if s is not None:
                self.pos[nb.P_RESTR, a, s] = 1
        self.meta[nb.M_NACC] = a + 1

    def _new_symbols(self, names: Sequence[str]) -> None:
        self._reserve(len(self._names), len(self.symbols), 0)
        new = set(names)
        for a, lim in enumerate(self._limits):
            for s_name in lim.restricted & new:
                self.pos[nb.P_RESTR, a, self.symbols[s_name]] = 1

    def _grow_rate(self, a: int) -> None:
        """Double account ``a``'s order-rate ring (up to max_orders_per_s), oldest first."""
        r = self.acc[a]
        cap, qh, qn = int(r[nb.A_QCAP]), int(r[nb.A_QHEAD]), int(r[nb.A_QN])
        new = min(int(r[nb.A_MAXRATE]), 2 * cap)
        off = self._rate.take(new)
        old = self._rate.data[r[nb.A_QOFF]:r[nb.A_QOFF] + cap]
        self._rate.data[off:off + qn] = np.roll(old, -qh)[:qn]
        r[nb.A_QOFF], r[nb.A_QCAP], r[nb.A_QHEAD] = off, new, 0

    # ------------------------------------------------------------------ encoding
    def encode(self, events: Sequence[Event]) -> np.ndarray:
        """The events as the kernel's array (``out[E_*, i]``, one column per event, a row
        per field: each row is filled from one list), interning names to indices."""
        n = len(events)
        if n <= _SMALL:
            return self._encode_few(events)
        out = np.zeros((nb.E_COLS, n), dtype=np.int64)
        # One comprehension per column: zip(*map(attrgetter(...))) allocates a tuple per
        # event, and those wake the cyclic garbage collector, which walks every live event.
        kind_t = [e.kind for e in events]
        acct_t = [e.account for e in events]
        sym_t = [e.symbol for e in events]
        price_t = [e.price for e in events]
        oid_t = [e.order_id for e in events]
        try:  # every loop below runs in C: map, compress and the interners' dict lookups
            kinds = np.fromiter(map(_KINDS.__getitem__, kind_t), np.int64, n)
        except KeyError:
            bad = next(ev for ev in events if ev.kind not in _KINDS)
            raise RiskError(f"event {bad.seq}: unknown kind {bad.kind!r}") from None
        out[nb.E_KIND] = kinds
        accounts, symbols = self.accounts, self.symbols
        n_acc, n_sym = len(accounts), len(symbols)
        traded = kinds % 2 == 0  # orders and fills name an account
        out[nb.E_ACCT, traded] = list(map(accounts.__getitem__,
                                          compress(acct_t, traded.tolist())))
        for name in list(accounts)[n_acc:]:
            self._new_account(name)
        priced = kinds != nb.K_CANCEL
        out[nb.E_SYM, priced] = list(map(symbols.__getitem__, compress(sym_t, priced.tolist())))
        if len(symbols) > n_sym:
            self._new_symbols(list(symbols)[n_sym:])
        out[nb.E_OID] = list(map(self.order_ids.__getitem__, oid_t))
        self._reserve(0, 0, len(self.order_ids))
        out[nb.E_SIDE] = [e.side for e in events]
        prices = np.array(price_t, dtype=np.float64)  # None (a market order): nan, then 0
        prices[np.isnan(prices)] = 0
        try:
            out[nb.E_QTY] = [e.qty for e in events]
            out[nb.E_TS] = [e.ts_ns for e in events]
            bad = (out[nb.E_QTY] < 0) | (out[nb.E_QTY] > nb.POS_MAX) | \
                (prices < 0) | (prices > nb.PRICE_MAX)  # exact below 2^53, and beyond: bad
            out[nb.E_PRICE] = prices
            first = int(np.argmax(bad)) if bad.any() else -1
        except OverflowError:
            first = next(i for i, ev in enumerate(events) if _out_of_range(ev))
        if first >= 0:
            raise KernelRangeError(_range_text(events[first]))
        return out

    def _encode_few(self, events: Sequence[Event]) -> np.ndarray:
        """:meth:`encode` for a handful of events in plain Python: numpy's whole-array
        operations cost a microsecond each, whatever the size, which a single event
        (:meth:`process`) would pay a dozen times."""
        cols: list[list[int]] = [[] for _ in range(nb.E_COLS)]
        for ev in events:
            kind = _KINDS.get(ev.kind)
            if kind is None:
                raise RiskError(f"event {ev.seq}: unknown kind {ev.kind!r}")
            if _out_of_range(ev):
                raise KernelRangeError(_range_text(ev))
            a = 0
            if kind == nb.K_ORDER or kind == nb.K_FILL:
                n_acc = len(self.accounts)
                a = self.accounts[ev.account]
                if a == n_acc:
                    self._new_account(ev.account)
            s = 0
            if kind != nb.K_CANCEL:
                n_sym = len(self.symbols)
                s = self.symbols[ev.symbol]
                if s == n_sym:
                    self._new_symbols((ev.symbol,))
            for col, v in zip(cols, (kind, a, s, ev.side, ev.qty, ev.price or 0,
                                     self.order_ids[ev.order_id], ev.ts_ns)):
                col.append(v)
        self._reserve(0, 0, len(self.order_ids))
        return np.array(cols, dtype=np.int64).reshape(nb.E_COLS, len(events))

    # ------------------------------------------------------------------ events
    def run(self, events: Iterable[Event]) -> list[Decision]:
        """Process every event in one kernel call (or a few, to drain alerts); returns the
        decisions, in order. Alerts are appended to :attr:`alerts`."""
        events = events if isinstance(events, Sequence) else list(events)
        ev = self.encode(events)
        reasons = np.zeros(len(events), dtype=np.int64)
        meta = self.meta
        i = 0
        while True:
            i = nb.run(ev, i, self.acc, self.s2, self.pos, self.hold, self.sym, self.oid,
                       self._ring.data, self._tail.data, self._rate.data, reasons,
                       self.alert_buf, self.touched_buf, meta)
            self._drain(events)
            if meta[nb.M_STATUS] == nb.ST_DONE:
                break
            if meta[nb.M_STATUS] == nb.ST_GROW:
                self._grow_rate(int(meta[nb.M_ERR]))
                continue
            if meta[nb.M_STATUS] == nb.ST_RANGE:
                self.events += i
                meta[nb.M_NTOUCHED] = 0
                err = KernelRangeError(
                    f"event {events[i].seq} ({events[i].kind}): a position, its value or an "
                    f"account's money would leave the numba engine's exact range (money "
                    f"within {nb.MONEY_MAX} units, positions within {nb.POS_MAX}); the "
                    f"events before it are applied; use engine='python'")
                err.decisions = self._decisions(events, ev, reasons, i)
                raise err
        self.events += len(events)
        return self._decisions(events, ev, reasons, len(events))

    def _decisions(self, events: Sequence[Event], ev: np.ndarray, reasons: np.ndarray,
                   end: int) -> list[Decision]:
        """The decisions of the orders among ``events[:end]``, stamped with the clock now."""
        at = self.clock()
        kinds = ev[nb.E_KIND, :end]
        rows = np.flatnonzero(kinds == nb.K_ORDER).tolist() if end > _SMALL else \
            [k for k, kind in enumerate(kinds.tolist()) if kind == nb.K_ORDER]
        codes = reasons.tolist()
        return [Decision(events[k].seq, events[k].order_id, events[k].account,
                         not codes[k], _REASON[codes[k]], at)
                for k in rows]

    def process(self, ev: Event) -> Decision | None:
        """One event (a batch of one); the decision for an order, else None."""
        out = self.run((ev,))
        return out[0] if out else None

    def _drain(self, events: Sequence[Event]) -> None:
        """The kernel's alert rows as :class:`Alert` objects, an event's by account name."""
        n = int(self.meta[nb.M_NALERTS])
        if not n:
            return
        rows = self.alert_buf[:n].tolist()
        self.meta[nb.M_NALERTS] = 0
        names = self._names
        rows.sort(key=lambda r: (r[0], names[r[1]]))  # stable: metric order per account
        for i, a, k, level, v1, v2 in rows:
            ev, lim = events[i], self._limits[a]
            if k == 0 or k == 3:
                value = _money(v1)
            elif k == 1:
                value = _money(Fraction(v1, 100 * MONEY_SCALE))
            else:
                margin = v1 * lim.scan
                value = "0" if margin == 0 else "inf" if v2 <= 0 else _money(margin / v2)
            self.alerts.append(Alert(ev.seq, ev.ts_ns, names[a], METRICS[k], _LEVEL[level],
                                     value, decimal_text(lim.raw[LIMIT_KEYS[k]])))

    # ------------------------------------------------------------------ views
    @property
    def touched(self) -> list[str]:
        """The names of the accounts whose metrics the last event changed, sorted."""
        n = int(self.meta[nb.M_NTOUCHED])
        return sorted(self._names[a] for a in self.touched_buf[:n].tolist())

    @property
    def unknown_fills(self) -> int:
        return int(self.meta[nb.M_UFILLS])

    @property
    def unknown_cancels(self) -> int:
        return int(self.meta[nb.M_UCANCELS])

    def _index(self, name: str) -> int:
        a = self.accounts.get(name)
        if a is None:
            a = self.accounts[name] = len(self._names)
            self._new_account(name)
        return a

    def metrics(self, account: str) -> Metrics:
        a = self._index(account)
        r = self.acc[a].tolist()
        s = MONEY_SCALE
        eq, gross = r[nb.A_BASE] + r[nb.A_NET], r[nb.A_GROSS]
        margin = gross * self._limits[a].scan
        util: Fraction | float = Fraction(0) if margin == 0 else \
            float("inf") if eq <= 0 else margin / eq
        return Metrics(account, Fraction(eq, s), Fraction(r[nb.A_REAL], s),
                       Fraction(r[nb.A_NET] - r[nb.A_COST], s), Fraction(gross, s),
                       Fraction(r[nb.A_NET], s), Fraction(r[nb.A_PEAK], s),
                       Fraction(r[nb.A_PEAK] - eq, s), Fraction(r[nb.A_VAR100], 100 * s),
                       nb.Z95 * math.sqrt(float(self.s2[a])), margin / s, util,
                       bool(r[nb.A_HALT]))

    def all_metrics(self) -> list[Metrics]:
        """Every account seen, by name."""
        return [self.metrics(name) for name in sorted(self.accounts)]

    def halt(self, account: str) -> None:
        """Turn an account's kill switch on by hand (it stays on)."""
        self.acc[self._index(account), nb.A_HALT] = 1

    def position(self, account: str, symbol: str) -> int:
        s = self.symbols.get(symbol)
        return 0 if s is None else int(self.pos[nb.P_POS, self._index(account), s])

    def open_quantity(self, account: str, symbol: str) -> tuple[int, int]:
        a, s = self._index(account), self.symbols.get(symbol)
        if s is None:
            return 0, 0
        return int(self.pos[nb.P_OBUY, a, s]), int(self.pos[nb.P_OSELL, a, s])


def warm_up() -> int:
    """Compile the kernel (or load it from Numba's disk cache) by running a small generated
    stream through it; returns the number of alerts, so the call is not optimized away. The
    Makefile calls this once before the tests and notebooks."""
    from .gen import FlowSpec, generate, limits_toml

    limits = limits_toml(var_window=4, drawdown_limit=500, max_orders_per_s=20)
    events = generate(400, FlowSpec(accounts=3, symbols=3), seed=1)
    engine = KernelRiskEngine(limits, clock=lambda: 0)
    engine.run(events)
    return len(engine.alerts)
