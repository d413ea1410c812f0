"""Lab 14: a fault-tolerant trading workflow, a Jepsen-style checker and a kill switch.

Market data -> strategy -> order manager -> exchange -> drop copy, each a sans-IO component on
:mod:`labsupport.sim` (or a real process, :mod:`.live`), under eleven seeded kinds of fault:

- :mod:`.orders`: the order state machine and the position keeper
- :mod:`.session`: sequence numbers, gap detection, resend requests, gap fills, heartbeats
- :mod:`.journal`: checksummed write-ahead records; :mod:`.retry`: backoff with jitter
- :mod:`.component`, :mod:`.oms`, :mod:`.exchange`, :mod:`.edge`, :mod:`.killswitch`: the parts
- :mod:`.nemesis`: the faults; :mod:`.scenario`: a seeded run and the fault matrix
- :mod:`.history`, :mod:`.checker`: what happened, and whether it was allowed
- :mod:`.plot`, :mod:`.explore`: the heatmap, the timeline, the widget; :mod:`.bench`
- ``python -m labsupport.resilience simulate|live ...``

::

    from labsupport.resilience import RunSpec, run
    result = run(RunSpec(seed=3, fault="crash", component="oms"))
    result.ok, result.history.digest()
"""

from .checker import INVARIANTS, Violation, check, excerpt, explain, kill_latencies_ns
from .component import Component, Context, Limits
from .errors import IllegalTransition, JournalError, ResilienceConfigError, ResilienceError
from .history import Event, History
from .journal import FileDisk, Journal
from .nemesis import COMPONENTS, FAULTS, parse_components, parse_faults
from .orders import STATES, TERMINAL, TRANSITIONS, Order, PositionKeeper
from .retry import Backoff
from .scenario import SABOTAGE, RunResult, RunSpec, replay_command, run, run_matrix, summary_rows
from .session import Session

__all__ = ["INVARIANTS", "Violation", "check", "excerpt", "explain", "kill_latencies_ns",
           "Component", "Context", "Limits", "IllegalTransition", "JournalError",
           "ResilienceConfigError", "ResilienceError", "Event", "History", "FileDisk", "Journal",
           "COMPONENTS", "FAULTS", "parse_components", "parse_faults", "STATES", "TERMINAL",
           "TRANSITIONS", "Order", "PositionKeeper", "Backoff", "SABOTAGE", "RunResult",
           "RunSpec", "replay_command", "run", "run_matrix", "summary_rows", "Session"]
