"""Command line: replay a recorded feed at its timing, or listen to a replayed UDP feed.

    python -m labsupport.replay FILE [--speed S] [--strategy sleep|spin|hybrid]
        [--to book|null|udp://HOST:PORT|zmq://tcp://HOST:PORT] [--start HH:MM:SS] [--duration S]
    python -m labsupport.replay listen udp://127.0.0.1:PORT [--speed S] [--count N]

FILE is an ITCH 5.0 file (``.gz`` too) or a Parquet/CSV file of ticks (``ts_ns, symbol, price,
size``). ``--speed 0`` replays as fast as possible. ``--start`` and ``--duration`` are on the
replay clock (ITCH: time of day; ticks: time of day of the first tick's date, UTC). A progress
line on stderr shows the replay clock and the lag; the summary goes to stdout.

The convention of ``labsupport.cli``: a bad argument, a missing file, a bad address, a damaged
file exit 2 with one line on stderr; a damaged file is first replayed up to the damage (and
its summary printed), then the line names the file and the byte offset.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import cli
from .errors import ReplayError, SinkError, SourceError
from .receiver import FeedReceiver, listen, open_socket
from .scheduler import DEFAULT_MARGIN_NS, STRATEGIES, Replayer
from .sinks import NullSink, Sink, UdpSink, ZmqSink, itch_book_sink, parse_address
from .sources import POLICIES, ItchSource, OrderStats, open_source, ordered

PROG = "python -m labsupport.replay"
NS_PER_DAY = 86_400 * 10**9


def clock_of_day(text: str) -> int:
    """``HH:MM:SS[.fff]`` -> ns since midnight (argparse type)."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        h, m, s = int(parts[0]), int(parts[1]), float(parts[2])
        if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
            raise ValueError
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"{text!r} is not HH:MM:SS") from None
    return (h * 3600 + m * 60) * 10**9 + round(s * 1e9)


def fmt_clock(ns: int) -> str:
    ns %= NS_PER_DAY
    s, frac = divmod(ns, 10**9)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac // 1000:06d}"


def build_parser() -> cli.ArgumentParser:
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="ITCH 5.0 file, or Parquet/CSV ticks")
    ap.add_argument("--speed", type=float, default=1.0, help="1 = recorded timing, 10 = ten times faster, 0 = flat out")
    ap.add_argument("--strategy", choices=STRATEGIES, default="hybrid")
    ap.add_argument("--margin-us", type=float, default=DEFAULT_MARGIN_NS / 1e3, help="hybrid: spin this long before each send")
    ap.add_argument("--to", default="book", help="book | null | udp://HOST:PORT | zmq://tcp://HOST:PORT")
    ap.add_argument("--start", type=clock_of_day, help="start at this time of day on the replay clock")
    ap.add_argument("--duration", type=float, help="replay this many seconds of the recording")
    ap.add_argument("--policy", choices=POLICIES, default="clamp",
                    help="a timestamp going backwards: clamp (send in file order, the default), error, reorder")
    ap.add_argument("--window", type=int, default=64, help="reorder window in messages (--policy reorder)")
    ap.add_argument("--max-packet", type=int, default=1400, help="UDP: MoldUDP64 packet size limit in bytes")
    ap.add_argument("--session", default="REPLAY", help="UDP: MoldUDP64 session name (at most 10 characters)")
    ap.add_argument("--batch-window-us", type=float, default=0.0, help="send messages due this close together at once")
    ap.add_argument("--cpu", type=int, help="pin the replay to this CPU")
    ap.add_argument("--progress", action="store_true", help="progress line even when stderr is not a terminal")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    return ap


def listen_parser() -> cli.ArgumentParser:
    ap = cli.ArgumentParser(prog=f"{PROG} listen", description="receive a MoldUDP64 feed and time it")
    ap.add_argument("url", help="udp://HOST:PORT to bind (a multicast group is joined on 127.0.0.1)")
    ap.add_argument("--speed", type=float, default=1.0, help="the sender's speed (for the intended schedule)")
    ap.add_argument("--count", type=int, help="stop after this many messages")
    ap.add_argument("--idle-timeout", type=float, default=10.0, help="stop after this many seconds without a packet")
    return ap


def make_sink(to: str, *, is_itch: bool, max_packet: int, session: str) -> Sink:
    if to == "book":
        if not is_itch:
            raise SinkError("--to book needs an ITCH file (ticks carry no orders)")
        return itch_book_sink()
    if to == "null":
        return NullSink()
    if to.startswith("udp://"):
        host, port = parse_address(to)
        return UdpSink(host, port, max_packet=max_packet, session=session)
    if to.startswith("zmq://"):
        endpoint = to[len("zmq://"):]
        return ZmqSink(endpoint if "://" in endpoint else f"tcp://{endpoint}")
    raise SinkError(f"--to {to!r}: expected book, null, udp://HOST:PORT or zmq://tcp://HOST:PORT")


def _progress_printer(stream, span: tuple[int, int] | None = None, width: int = 24):
    """A progress line: a bar over ``span`` (replay-clock ns, when known), the replay clock, the lag."""
    def show(r: Replayer) -> None:
        clock = fmt_clock(r.last_ts) if r.last_ts is not None else "--"
        bar = ""
        if span is not None and r.last_ts is not None:
            done = min(max((r.last_ts - span[0]) / max(span[1] - span[0], 1), 0.0), 1.0)
            bar = f"[{'#' * round(done * width):<{width}}] {done:4.0%}  "
        stream.write(f"\r{bar}replay clock {clock}  lag {r.lag_ns / 1e3:9.1f} µs  {r.sent:>12,} messages")
        stream.flush()
    return show


def cmd_listen(argv: Sequence[str]) -> int:
    args = listen_parser().parse_args(argv)
    host, port = parse_address(args.url)
    sock, kernel = open_socket(host, port)
    print(f"listening on udp://{host}:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    rec = FeedReceiver(speed=args.speed, keep=False)
    try:
        listen(sock, rec, kernel=kernel, count=args.count, idle_timeout_s=args.idle_timeout)
    finally:
        sock.close()
    for line in rec.summary().lines():
        print(line)
    return 0


@cli.entry(PROG, input_errors=(ReplayError,))
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["listen"]:
        return cmd_listen(argv[1:])
    args = build_parser().parse_args(argv)
    if args.speed < 0:
        build_parser().error(f"argument --speed: {args.speed} is negative")
    source = open_source(args.file, raw=args.to.startswith("udp://"))
    is_itch = isinstance(source, ItchSource)
    sink = make_sink(args.to, is_itch=is_itch, max_packet=args.max_packet, session=args.session)
    stats = OrderStats()
    show = (args.progress or sys.stderr.isatty()) and not args.quiet
    r = Replayer(ordered(source, args.policy, window=args.window, stats=stats), sink, speed=args.speed,
                 strategy=args.strategy, margin_ns=round(args.margin_us * 1e3),
                 batch_window_ns=round(args.batch_window_us * 1e3), cpu=args.cpu,
                 progress=_progress_printer(sys.stderr) if show else None)
    until = None
    try:
        first = r.peek()
        if first is not None and (args.start is not None or args.duration is not None):
            day = 0 if first[0] < NS_PER_DAY else first[0] - first[0] % NS_PER_DAY
            begin = first[0] if args.start is None else day + args.start
            if args.start is not None:
                r.seek(begin)
            if args.duration is not None:
                until = begin + round(args.duration * 1e9)
                if show:
                    r.progress = _progress_printer(sys.stderr, (begin, until))
        r.run(until_ts=until)
    except SourceError as exc:
        _report(r, stats, sink, show, damaged=exc)
        raise
    finally:
        sink.close()
    _report(r, stats, sink, show)
    return 0


def _report(r: Replayer, stats: OrderStats, sink: Sink, show: bool, damaged: SourceError | None = None) -> None:
    if show and r.progress is not None:
        r.progress(r)
        sys.stderr.write("\n")
    print(("replayed up to the damage: " if damaged else "") + r.summary().line())
    print(f"order: {stats.out_of_order} out of order, {stats.clamped} clamped, {stats.reordered} reordered; "
          f"{r.skipped} skipped by --start")
    if isinstance(sink, UdpSink):
        print(f"udp: {sink.packets} packets, {sink.bytes_sent} bytes, sequence numbers 1..{sink.next_seq - 1}")
    book = getattr(sink, "book", None)
    if book is not None:
        print(f"book: {len(book.orders)} live orders over {len(book.levels)} stocks, "
              f"{book.unknown_refs} unknown references, {book.anomalies} anomalies")
    if r.applied is not None:
        a = r.applied
        print(f"timer slack {a.timer_slack_ns if a.timer_slack_ns is not None else 'default'} ns, "
              f"cpu {a.cpu if a.cpu is not None else 'any'}, gc {'frozen' if a.gc_frozen else 'running'}")


if __name__ == "__main__":
    sys.exit(main())
