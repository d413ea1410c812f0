"""ITCH message type against its byte layout: the view behind notebook 13's explorer.

Pick one of the 23 ITCH 5.0 types and see where every field sits in its fixed-size record: a
byte map (one coloured span per field, drawn from ``itch.layout.LAYOUTS``, the table the
parsers and the encoder are derived from), the hex dump of a real message of that type, and
the field-by-field table with the bytes and the decoded value (``display.itch_fields``, which
decodes through the streaming parser).

The example message is the first one of its type in the committed sample day
(``data/protocols/sample_day.itch``), or, when the sample lacks that type or is not there, one
encoded with every field zero or blank, so the view never depends on more than the package.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from ..measure.paths import REPO_DIR
from . import display
from .itch.encode import encode
from .itch.layout import LAYOUTS, MESSAGE_TYPES
from .itch.parser import iter_tuples, read_itch_file

__all__ = ["SAMPLE_DAY", "example_message", "layout_table", "show_layout", "layout_explorer"]

SAMPLE_DAY = REPO_DIR / "data" / "protocols" / "sample_day.itch"
_KIND_COLORS = {"alpha": "tab:green", "int": "tab:blue", "ts": "tab:purple", "p4": "tab:orange",
                "p8": "tab:red"}  # fmt: skip


@functools.cache
def _first_of_each(path: Path = SAMPLE_DAY) -> dict[str, bytes]:
    """The first message of each type in a framed ITCH file (without its length prefix)."""
    if not path.exists():
        return {}
    data = read_itch_file(path)
    found: dict[str, bytes] = {}
    pos = 0
    for t in iter_tuples(data):  # the parser checks the framing; we only slice what it read
        size = LAYOUTS[t[0]].size
        if t[0] not in found:
            found[t[0]] = bytes(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return found


def example_message(letter: str) -> bytes:
    """A message of type ``letter``: from the sample day, or encoded with zero/blank fields."""
    if letter not in LAYOUTS:
        raise KeyError(f"{letter!r} is not an ITCH 5.0 message type: {''.join(MESSAGE_TYPES)}")
    return _first_of_each().get(letter) or encode(letter)


def layout_table(letter: str) -> pd.DataFrame:
    """One row per field of an example message: offset, length, kind, bytes, decoded value."""
    return display.itch_fields(example_message(letter)).set_index("field")


def show_layout(letter: str = "A") -> pd.DataFrame:
    """Draw the byte map of ``letter``'s layout, print an example's hex dump, return its fields."""
    import matplotlib.pyplot as plt

    lay = LAYOUTS[letter]
    msg = example_message(letter)
    fig, ax = plt.subplots(figsize=(12, 1.9))
    for i, f in enumerate(lay.fields):
        ax.broken_barh([(f.offset, f.length)], (0, 1), facecolors=_KIND_COLORS[f.kind],
                       edgecolors="white", alpha=0.55 + 0.25 * (i % 2))
        ax.text(f.offset + f.length / 2, 0.5, f.name.replace("_", "\n"), ha="center", va="center",
                fontsize=7, rotation=90 if f.length < 3 else 0)
    ax.set_xlim(0, lay.size)
    ax.set_yticks([])
    ax.set_xlabel("byte offset in the message (after the 2-byte length prefix)")
    kinds = ", ".join(f"{k}={c.split(':')[1]}" for k, c in _KIND_COLORS.items())
    ax.set_title(f"{letter}: {lay.title}, {lay.size} bytes ({kinds})", fontsize=9)
    plt.tight_layout()
    plt.show()
    print(display.hexdump(msg))
    return layout_table(letter)


def layout_explorer():
    """A dropdown of the 23 types; each choice redraws :func:`show_layout`."""
    import ipywidgets as w
    from IPython.display import display as show

    pick = w.Dropdown(options=[(f"{t}  {LAYOUTS[t].title}", t) for t in MESSAGE_TYPES], value="A",
                      description="type", layout=w.Layout(width="460px"))
    out = w.interactive_output(lambda letter: show(show_layout(letter)), {"letter": pick})
    return w.VBox([pick, out])
