"""Lab 09: a tick replay engine that keeps recorded timing to microseconds.

    from labsupport.replay import ItchSource, Replayer, itch_book_sink, UdpSink
    sink = itch_book_sink()
    Replayer(ItchSource("data/protocols/sample_day.itch"), sink, speed=10, strategy="hybrid").run()
    sink.book.l2(1); sink.log.errors_ns()

Modules, in the order a message flows: ``sources`` (ITCH files, tick-store queries,
Parquet/CSV ticks; the out-of-order policy), ``clock`` (the real clock and a fake one),
``rt`` (timer slack, pinning, the frozen GC), ``scheduler`` (the absolute schedule, the wait
strategies, batching, pause/seek), ``sinks`` (callback, MoldUDP64 over UDP, ZeroMQ PUB; each
logs actual vs intended send time), ``receiver`` (the UDP consumer: gaps, kernel arrival
times), ``__main__`` (command line), ``bench``, ``explore`` (the notebook's explorer).
"""

from .clock import Clock, FakeClock, MonotonicClock
from .errors import ControlError, OutOfOrderError, ReplayError, SinkError, SourceError
from .receiver import FeedReceiver, ReceiverSummary, listen, open_socket
from .rt import realtime, set_timer_slack_ns, timer_slack_ns
from .scheduler import DEFAULT_MARGIN_NS, STRATEGIES, Replayer, ReplaySummary, summarize
from .sinks import (
    CallbackSink,
    EngineSink,
    NullSink,
    SendLog,
    Sink,
    UdpSink,
    ZmqSink,
    itch_book_sink,
    parse_address,
)
from .sources import (
    POLICIES,
    FlowSource,
    ItchSource,
    OrderStats,
    TickFrameSource,
    TickStoreSource,
    open_source,
    ordered,
)

__all__ = [
    "Clock", "FakeClock", "MonotonicClock",
    "ControlError", "OutOfOrderError", "ReplayError", "SinkError", "SourceError",
    "FeedReceiver", "ReceiverSummary", "listen", "open_socket",
    "realtime", "set_timer_slack_ns", "timer_slack_ns",
    "DEFAULT_MARGIN_NS", "STRATEGIES", "Replayer", "ReplaySummary", "summarize",
    "CallbackSink", "EngineSink", "NullSink", "SendLog", "Sink", "UdpSink", "ZmqSink", "itch_book_sink", "parse_address",
    "POLICIES", "FlowSource", "ItchSource", "OrderStats", "TickFrameSource", "TickStoreSource", "open_source", "ordered",
]  # fmt: skip
