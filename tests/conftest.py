"""Shared pytest set-up: Jupyter and matplotlib state under build/, headless plotting."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
