"""Rebuild the committed samples in ``data/protocols/`` (deterministic: same bytes every run).

    python -m labsupport.protocols.samples data/protocols

* ``sample_day.itch``: an ITCH 5.0 day (2-byte length framing) generated from 3,000 events of
  ``labsupport.marketdata`` order flow (3 symbols, seed 7) by :mod:`.itch.gen`.
* ``session.fix``: the FIX 4.4 order-entry session for 300 events of order flow (2 symbols,
  seed 7): the client's D/F/G and the gateway's 8/9 answers, raw SOH-delimited, wire order.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .bench import fix_session, make_day

ITCH_EVENTS, FIX_EVENTS, SEED = 3_000, 300, 7


def make_samples(out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _, day = make_day(ITCH_EVENTS, seed=SEED, n_symbols=3)
    itch = out / "sample_day.itch"
    itch.write_bytes(day.data)
    fix = out / "session.fix"
    fix.write_bytes(b"".join(fix_session(FIX_EVENTS, seed=SEED)))
    return [itch, fix]


if __name__ == "__main__":
    for p in make_samples(sys.argv[1] if len(sys.argv) > 1 else "data/protocols"):
        print(p, p.stat().st_size, "bytes")
