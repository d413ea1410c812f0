"""Lab 06: a real-time risk engine (pre-trade checks, exposure, PnL, drawdown, VaR, margin,
alerts with hysteresis and a kill switch), fed events, with no I/O inside.

``RiskEngine(limits).process(event)`` is the whole interface (``make_engine(limits,
engine="numba")`` gives the same interface on a compiled kernel, :mod:`.kernel`); :mod:`.events` reads the event
CSV, :mod:`.limits` the TOML limits, :mod:`.report` writes the four output CSVs, :mod:`.gen`
makes seeded event streams and ``python -m labsupport.risk`` runs it all from a shell.
"""

from .alerts import ALERT_HEADER, METRICS, Alert, transition
from .checks import REASONS, pretrade
from .engine import DECISION_HEADER, ENGINES, Decision, RiskEngine, make_engine
from .events import (
    EVENT_HEADER,
    MONEY_SCALE,
    PRICE_SCALE,
    Event,
    EventError,
    RiskError,
    parse_price,
    read_events,
    read_events_file,
)
from .limits import Limits, LimitsError, LimitsFile, load_limits, parse_limits
from .positions import METRICS_HEADER, AccountRisk, Metrics
from .var import EwmaVaR, HistoricalVaR

__all__ = ["ALERT_HEADER", "DECISION_HEADER", "EVENT_HEADER", "METRICS", "METRICS_HEADER",
           "ENGINES", "MONEY_SCALE", "PRICE_SCALE", "REASONS", "AccountRisk", "Alert",
           "Decision", "Event", "EventError", "EwmaVaR", "HistoricalVaR", "Limits",
           "LimitsError", "LimitsFile", "Metrics", "RiskEngine", "RiskError", "load_limits",
           "make_engine", "parse_limits", "parse_price", "pretrade", "read_events", "read_events_file",
           "transition"]
