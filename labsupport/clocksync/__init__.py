"""Clock synchronisation: PTP-lite (IEEE 1588 two-step) against an NTP-style client.

- :mod:`.clock`: oscillators (ppm, wander, temperature, ageing), the steerable virtual clock,
  timestamp noise (hardware vs software), Allan deviation
- :mod:`.codec`: PTP messages in bytes (the common header and the bodies used)
- :mod:`.servo`: the four-timestamp formulas, packet selection, the PI servo
- :mod:`.ptp`: the master and slave state machines, the best-master-clock comparison
- :mod:`.ntp`: the NTP-style client (clock filter, poll adaptation, Marzullo, PLL)
- :mod:`.simulation`: both on :mod:`labsupport.sim`, with true offsets known to the ns
- :mod:`.summary`: convergence, residual offset percentiles, the RTS 25 verdict
- :mod:`.real`: the master and slaves as processes over UDP on loopback
"""

from .clock import HW, SW, Oscillator, RawClock, Timestamping, VirtualClock, allan_deviation
from .codec import Message, decode, encode
from .errors import ClockConfigError, ClockSyncError, CodecError
from .ntp import NtpClient, marzullo, ntp_offset_delay
from .ptp import Exchange, PtpMaster, PtpSlave, best_master
from .servo import HW_GAINS, SW_GAINS, Gains, MinDelayFilter, PIServo, offset_and_delay
from .simulation import PathModel, Row, Scenario, run, write_csv
from .summary import Summary, summarize

__all__ = ["HW", "SW", "Oscillator", "RawClock", "Timestamping", "VirtualClock",
           "allan_deviation", "Message", "decode", "encode", "ClockConfigError", "ClockSyncError",
           "CodecError", "NtpClient", "marzullo", "ntp_offset_delay", "Exchange", "PtpMaster",
           "PtpSlave", "best_master", "HW_GAINS", "SW_GAINS", "Gains", "MinDelayFilter",
           "PIServo", "offset_and_delay", "PathModel", "Row", "Scenario", "run", "write_csv",
           "Summary", "summarize"]
