"""Your solutions to notebook 06's exercises. Check them with `python -m labsupport check 06`
(or `check("06.1", historical_var)` in the notebook)."""

import math  # noqa: F401 (for your code)


def historical_var(window):
    """06.1: the 95 % historical VaR of a list of equity changes: max(0, -q) where q is the 5 %
    quantile with linear interpolation (numpy's default): sorted x, h = (n - 1) * 0.05,
    q = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]); 0 with fewer than 2 values.
    As it is: the nearest rank, no interpolation."""
    if len(window) < 2:
        return 0
    x = sorted(window)
    return max(0, -x[int(0.05 * len(x))])


def alert_step(state, value, limit):
    """06.2: one step of an alert state (0 none, 1 warn, 2 breach) for a value against its limit;
    returns (new_state, level) with level "warn", "breach", "clear" or None. From none: breach at
    100 % or more (only breach, even if it jumps past 80 %), warn at 80 %; from warn: breach at
    100 %; from warn or breach: clear (back to none) below 70 %; nothing else changes.
    As it is: no hysteresis, so it flaps."""
    ratio = value / limit
    new = 2 if ratio >= 1 else 1 if ratio >= 0.8 else 0
    if new == state:
        return state, None
    return new, {0: "clear", 1: "warn", 2: "breach"}[new]


def ewma_var(changes):
    """06.3: the EWMA VaR 95 % after each change (a list, one value per change): sigma^2 starts
    at the first change squared, then sigma^2 = 0.94 sigma^2 + 0.06 change^2;
    VaR = 1.6448536269514722 sigma. As it is: the standard deviation of everything so far."""
    out = []
    for i in range(len(changes)):
        seen = changes[: i + 1]
        mean = sum(seen) / len(seen)
        out.append(1.6448536269514722 * math.sqrt(sum((c - mean) ** 2 for c in seen) / len(seen)))
    return out
