"""Shared pytest set-up: headless plotting in the test process.

Only this process is switched to Agg; notebook kernels that nbval starts keep their inline
backend (an MPLBACKEND variable would leak into them and drop every figure).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
