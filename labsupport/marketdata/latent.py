"""The latent processes behind the synthetic market: arrival clock, mid price, spread.

Nothing here knows about orders. These are the "true" state variables a real market would
hide from us and that the order flow and the tape are drawn around:

* **Arrivals** (``bursty_gaps_ns``): a two-state Markov-modulated Poisson process. Calm and
  burst stretches alternate, their lengths (in arrivals) geometric; within a stretch the
  inter-arrival times are exponential at the calm rate or ``multiplier`` times it. This is the
  simplest model that reproduces the over-dispersion of real message traffic (bursts after
  news, around the open, when an algorithm re-quotes a whole ladder); a Hawkes process is the
  richer alternative, but it cannot be drawn without a sequential loop.
* **Mid price** (``latent_mid``): an independent arithmetic Brownian motion per symbol, in
  ticks, sampled at that symbol's event times: the increment between two events of a symbol
  that are ``dt`` apart is ``N(0, sigma**2 * dt)``. Vectorised as a cumulative sum over the
  events grouped by symbol.
* **Spread** (``spread_ticks``): piecewise constant per symbol; at each event of a symbol it is
  redrawn with a small probability from a log-normal around the symbol's typical spread
  (rounded, at least one tick), otherwise it keeps its value (a forward fill).

Every function takes its ``numpy.random.Generator`` explicitly and draws a fixed number of
variates in a fixed order, so a seed pins the whole stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def bursty_gaps_ns(
    rng: np.random.Generator,
    n: int,
    mean_gap_ns: float,
    multiplier: float,
    calm_mean: float,
    burst_mean: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` inter-arrival gaps (int64 ns) averaging ``mean_gap_ns``, and a burst flag per arrival.

    The calm gap is chosen so that the mean over calm and burst arrivals is ``mean_gap_ns``:
    with a share ``pb = burst_mean / (calm_mean + burst_mean)`` of arrivals in bursts,
    ``mean = (1 - pb) * calm_gap + pb * calm_gap / multiplier``.
    """
    pb = burst_mean / (calm_mean + burst_mean)
    calm_gap = mean_gap_ns / ((1.0 - pb) + pb / multiplier)
    # Stretch lengths: pairs (calm, burst) until they cover n arrivals. Twice the expected
    # number of pairs almost always suffices; the loop only runs again for tiny n.
    pairs = int(2 * n / (calm_mean + burst_mean)) + 4
    lengths = np.empty(0, dtype=np.int64)
    while lengths.sum() < n:
        calm = rng.geometric(min(1.0, 1.0 / calm_mean), pairs)
        burst = rng.geometric(min(1.0, 1.0 / burst_mean), pairs)
        lengths = np.concatenate([lengths, np.column_stack([calm, burst]).ravel()])
    state = np.zeros(len(lengths), dtype=bool)
    state[1::2] = True
    burst_flag = np.repeat(state, lengths)[:n]
    scale = np.where(burst_flag, calm_gap / multiplier, calm_gap)
    gaps = np.floor(rng.standard_exponential(n) * scale).astype(np.int64)
    return gaps, burst_flag


@dataclass(frozen=True, slots=True)
class SymbolGroups:
    """Events grouped by symbol, time order kept inside each group (a stable sort)."""

    order: np.ndarray  # positions of the events, symbol-major
    symbol_sorted: np.ndarray  # symbol[order]
    first: np.ndarray  # bool, True at the first event of each symbol in the sorted view
    start: np.ndarray  # for each sorted position, the sorted position of its group's first event

    @classmethod
    def of(cls, symbol: np.ndarray) -> SymbolGroups:
        order = np.argsort(symbol, kind="stable")  # radix sort for u2: O(n)
        sym = symbol[order]
        first = np.ones(len(sym), dtype=bool)
        first[1:] = sym[1:] != sym[:-1]
        start = np.maximum.accumulate(np.where(first, np.arange(len(sym)), 0))
        return cls(order, sym, first, start)

    def scatter(self, sorted_values: np.ndarray) -> np.ndarray:
        """Put values computed in the symbol-major view back in event order."""
        out = np.empty_like(sorted_values)
        out[self.order] = sorted_values
        return out

    def previous_differs(self, sorted_values: np.ndarray) -> np.ndarray:
        """True where a value differs from the previous event of the same symbol (or is first)."""
        out = self.first.copy()
        out[1:] |= sorted_values[1:] != sorted_values[:-1]
        return out


def latent_mid(
    rng: np.random.Generator,
    ts_ns: np.ndarray,
    groups: SymbolGroups,
    start_ticks: np.ndarray,
    sigma_ticks_per_sqrt_s: np.ndarray,
) -> np.ndarray:
    """The latent mid (float ticks) of each event's symbol at the event's time, in event order."""
    n = len(ts_ns)
    ts = ts_ns[groups.order]
    dt = np.empty(n, dtype=np.float64)
    dt[0] = 0.0
    np.subtract(ts[1:], ts[:-1], out=dt[1:], casting="unsafe")
    dt[groups.first] = 0.0  # a symbol's first event sits at its opening price
    sym = groups.symbol_sorted
    inc = rng.standard_normal(n) * sigma_ticks_per_sqrt_s[sym] * np.sqrt(dt * 1e-9)
    walk = np.cumsum(inc)
    # increment at a group's first event is 0, so walk[start] is the level the group starts from
    mid = start_ticks[sym] + (walk - walk[groups.start])
    return groups.scatter(mid)


def spread_ticks(
    rng: np.random.Generator,
    groups: SymbolGroups,
    typical_ticks: np.ndarray,
    change_prob: float,
    dispersion: float,
) -> np.ndarray:
    """Quoted spread (int64 ticks, >= 1) at each event, piecewise constant per symbol."""
    n = len(groups.order)
    change = np.flatnonzero(groups.first | (rng.random(n) < change_prob))
    # draw a new spread only where it changes, then hold it until the next change
    typical = typical_ticks[groups.symbol_sorted[change]]
    draws = np.rint(typical * np.exp(dispersion * rng.standard_normal(len(change))))
    draws = np.maximum(draws, 1.0).astype(np.int64)
    run = np.zeros(n, dtype=np.int64)
    run[change[1:]] = 1  # change[0] == 0: the first event of the first symbol
    return groups.scatter(draws[np.cumsum(run)])


def touch_from_mid(mid_ticks: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best bid and ask (int64 ticks) centred on the latent mid, ``ask - bid == spread``."""
    bid = np.floor(mid_ticks - 0.5 * spread + 0.5).astype(np.int64)
    np.maximum(bid, 1, out=bid)  # a price never reaches zero
    return bid, bid + spread


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Probabilities proportional to ``(k + 1) ** -exponent`` for k in 0..n-1."""
    w = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return w / w.sum()
