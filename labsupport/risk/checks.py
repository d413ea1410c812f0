"""Pre-trade checks: the chain every order passes before it may reach the market.

SEC Rule 15c3-5 (the "market access rule", 2010) requires a broker to reject, before entry,
orders that exceed pre-set credit or capital thresholds or that are erroneous (wrong price,
wrong size, duplicated), and to be able to stop an account at once. Knight Capital lost more
than $460 million in 45 minutes on 1 August 2012 when a deployment left old code sending
orders that no such check stopped; the SEC's order against Knight cites these controls.

The chain, in order; the first failure is the reject reason (:data:`REASONS`):

==================  =======================================================================
halted              the account's kill switch is on
duplicate           the order id was seen before (accepted or not)
restricted          the symbol is on the account's restricted list
max_order_qty       qty > max_order_qty
no_price            a market order and no mark yet for the symbol (nothing to value it at)
max_order_notional  qty x price > max_order_notional (price: the limit, or the last mark)
price_collar        |price - mark| x 100 > price_collar_pct x mark (limit orders with a mark)
max_position        buy: position + open buys + qty > max_position;
                    sell: position - open sells - qty < -max_position
credit              gross exposure + the order's notional > credit_limit
order_rate          more than max_orders_per_s orders (this one included, rejected ones too)
                    with ts_ns in (ts_ns - 1 s, ts_ns]
==================  =======================================================================

Theory of operation: one function, no allocation, every comparison on integers (prices in
price units, money in money units, the collar cross-multiplied with the exact fraction), so a
value exactly at a limit passes and one unit over fails, on every machine. The limits are
read from the account itself (:class:`~.positions.AccountRisk` copies them as plain ints:
one attribute load per limit), and the notional limit is compared in price units x shares
(``q x p x COST_SCALE > N`` is ``q x p > N // COST_SCALE`` for integers), one multiplication
fewer for every order that is not near the credit limit. The order-rate
window is a deque of the account's order timestamps: O(1) amortized, since each timestamp is
appended once and dropped once. It is updated before the chain runs, because a rejected order
counts too (a runaway algorithm hammering rejects must still trip the rate limit).
The chain is inlined rather than a list of check objects, which would add a Python call per
check, ten per order, to a budget of about 2 us.
"""

from __future__ import annotations

from labsupport.orderbook.pnl import COST_SCALE

from .events import BUY, Event
from .positions import AccountRisk

__all__ = ["REASONS", "WINDOW_NS", "pretrade"]

REASONS = ("halted", "duplicate", "restricted", "max_order_qty", "no_price",
           "max_order_notional", "price_collar", "max_position", "credit", "order_rate")
WINDOW_NS = 1_000_000_000  # the order-rate window, (ts - 1 s, ts]


def pretrade(acct: AccountRisk, ev: Event, seen: set[str], marks: dict[str, int]) -> str:
    """Check one order; returns the reject reason, or ``""`` to accept. Records the order in
    the account's rate window and its id in ``seen`` whatever the answer."""
    # The rate window first: every order counts, whatever the rest of the chain says.
    times = acct.order_ts
    ts = ev.ts_ns
    times.append(ts)
    edge = ts - WINDOW_NS
    while times[0] <= edge:  # stops at the latest, ts > edge
        times.popleft()
    # One probe of the id set, not two (it holds every id ever seen: a large table whose
    # probes miss the cache): the id was new if the set grew.
    n_seen = len(seen)
    seen.add(ev.order_id)
    if acct.halted:
        return "halted"
    if len(seen) == n_seen:
        return "duplicate"
    symbol = ev.symbol
    if symbol in acct.restricted:
        return "restricted"
    qty = ev.qty
    if qty > acct.max_order_qty:
        return "max_order_qty"
    mark = marks.get(symbol)
    price = ev.price
    if price is None:  # market order: valued at the last mark
        if mark is None:
            return "no_price"
        notional = qty * mark  # in price units x shares; x COST_SCALE is money units
    else:
        notional = qty * price
    if notional > acct.max_notional_pu:
        return "max_order_notional"
    # collar = pct / 100 = num / den:  |p - m| x 100 > pct x m  <=>  |p - m| x den > num x m
    if price is not None and mark is not None and \
            abs(price - mark) * acct.collar_den > acct.collar_num * mark:
        return "price_collar"
    p = acct.positions.get(symbol)
    pos = p.position if p is not None else 0
    if ev.side == BUY:
        if pos + acct.open_buy.get(symbol, 0) + qty > acct.max_position:
            return "max_position"
    elif pos - acct.open_sell.get(symbol, 0) - qty < -acct.max_position:
        return "max_position"
    if acct.gross + notional * COST_SCALE > acct.credit_limit:
        return "credit"
    if len(times) > acct.max_orders_per_s:
        return "order_rate"
    return ""
