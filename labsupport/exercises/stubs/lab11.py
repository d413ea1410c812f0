"""Your solutions to notebook 11's exercises. Check them with `python -m labsupport check 11`
(or `check("11.1", recentre)` in the notebook)."""

import numpy as np  # noqa: F401 (for your code)


def recentre(base, width, lo, hi, price):
    """11.1: a book's window covers prices [base, base + width); its occupied levels span
    [lo, hi] and an order must rest at ``price`` outside the window. Return the new base that
    puts [min(lo, price), max(hi, price)] in the middle of the window (the slack split evenly,
    the extra tick above), never below 0; or None when that span is wider than the window (the
    engine then doubles the width and asks again)."""
    raise NotImplementedError("11.1: compute the new base, or None if the span does not fit")


def encode_ids(ids):
    """11.2: order ids (ints or text) -> (int64 numpy array of keys, list of interned values).
    An int in [0, 2**62) is its own key; any other value (text, a negative or huge int) gets
    -1, -2, ... in order of first sight, the same key every time it comes back; the list holds
    the interned values in that order (key -k is names[k - 1]). 7 and "7" are two ids."""
    raise NotImplementedError("11.2: map each id to its key")


COST_SCALE = 10_000  # cost units per (tick x share), Lab 02's


def apply_fill(position, cost, realized, signed, price):
    """11.3: one fill of ``signed`` shares (+ bought, - sold) at ``price`` ticks applied to an
    average-cost position, everything in integer cost units (``COST_SCALE`` per tick-share).
    Opening or adding grows ``cost`` by ``signed * price * COST_SCALE``. Reducing by ``c``
    shares removes ``round(cost * c / |position|)`` (halves away from zero) from the basis and
    realizes the proceeds minus what was removed; going through zero closes everything, then
    opens the rest at the fill price. Return ``(position, cost, realized)``. This is what the
    kernels do on every fill, in int64."""
    raise NotImplementedError("11.3: apply the fill to (position, cost, realized)")
