"""Reference solutions of notebook 06's exercises (CI checks that they pass)."""

import math


def historical_var(window):
    n = len(window)
    if n < 2:
        return 0
    x = sorted(window)
    h = (n - 1) * 5 / 100
    lo = math.floor(h)
    q = x[lo] + (h - lo) * (x[lo + 1] - x[lo]) if lo + 1 < n else x[lo]
    return max(0, -q)


def alert_step(state, value, limit):
    ratio = value / limit
    if state == 0:
        if ratio >= 1:
            return 2, "breach"
        if ratio >= 0.8:
            return 1, "warn"
        return 0, None
    if ratio < 0.7:
        return 0, "clear"
    if state == 1 and ratio >= 1:
        return 2, "breach"
    return state, None


def ewma_var(changes):
    out, sigma2 = [], None
    for c in changes:
        sigma2 = c * c if sigma2 is None else 0.94 * sigma2 + 0.06 * c * c
        out.append(1.6448536269514722 * math.sqrt(sigma2))
    return out
