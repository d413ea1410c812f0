"""Reference solutions of notebook 11's exercises."""

import numpy as np

KEY_LIMIT = 1 << 62


def recentre(base, width, lo, hi, price):
    """11.1: centre [min(lo, price), max(hi, price)] in the window; None if it is too wide."""
    lo_p, hi_p = min(lo, price), max(hi, price)
    span = hi_p - lo_p + 1
    if span > width:
        return None
    return max(0, lo_p - (width - span) // 2)


def encode_ids(ids):
    """11.2: ints in [0, 2**62) pass through; anything else is interned as -1, -2, ..."""
    keys, names, out = {}, [], []
    for v in ids:
        if type(v) is int and 0 <= v < KEY_LIMIT:
            out.append(v)
            continue
        k = keys.get(v)
        if k is None:
            names.append(v)
            k = keys[v] = -len(names)
        out.append(k)
    return np.array(out, dtype=np.int64), names


COST_SCALE = 10_000


def apply_fill(position, cost, realized, signed, price):
    """11.3: Lab 02's average-cost rule on integers (one rounding, halves away from zero)."""
    unit = price * COST_SCALE
    if position == 0 or (position > 0) == (signed > 0):
        return position + signed, cost + signed * unit, realized
    qty, apos = abs(signed), abs(position)
    closed = min(qty, apos)
    if closed == apos:
        removed = cost
    else:
        removed, rem = divmod(abs(cost) * closed, apos)
        removed += 2 * rem >= apos
        removed = -removed if cost < 0 else removed
    realized += closed * unit - removed if position > 0 else -removed - closed * unit
    rest = qty - closed
    if rest:
        rest = rest if signed > 0 else -rest
        return rest, rest * unit, realized
    return position + signed, cost - removed, realized
