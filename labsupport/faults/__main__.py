"""``python -m labsupport.faults``: the fault proxy as a process, and its control commands.

::

    python -m labsupport.faults proxy --upstream 127.0.0.1:6379 --latency-ms 20
    #  prints: fault proxy listening on 127.0.0.1:PORT -> 127.0.0.1:6379; control on 127.0.0.1:C
    python -m labsupport.faults set --control C --direction downstream latency_ms=50 jitter_ms=10
    python -m labsupport.faults set --control C --refuse on
    python -m labsupport.faults stats --control C
    python -m labsupport.faults clear --control C

``proxy`` listens on ``--listen`` (0: a free port, reported on the first line) and serves the
control protocol (:mod:`labsupport.faults.control`) on ``--control`` (0: a free port) until
Ctrl-C or SIGTERM. Settings are the fields of :class:`~labsupport.faults.shaping.Direction`:
latency_ms, jitter_ms, bandwidth_bps, drop_after_bytes, drop_probability, blackhole.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from typing import Any

from labsupport import cli

from .control import ControlClient, ControlServer
from .proxy import FaultProxy
from .shaping import FaultConfigError, FaultError, Faults

PROG = "python -m labsupport.faults"
SETTINGS = ("latency_ms", "jitter_ms", "bandwidth_bps", "drop_after_bytes", "drop_probability")


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise FaultConfigError(f"--upstream {text!r} is not HOST:PORT")
    return host, int(port)


def _assignment(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep:
        raise FaultConfigError(f"{text!r} is not NAME=VALUE (e.g. latency_ms=20)")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        raise FaultConfigError(f"{name}: {value!r} is not a number, true, false or null") from None


async def _serve(args: argparse.Namespace) -> None:
    changes = {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}
    if args.blackhole:
        changes["blackhole"] = True
    faults = Faults().with_changes(args.direction, args.refuse, **changes)
    proxy = await FaultProxy(_hostport(args.upstream), listen=("127.0.0.1", args.listen),
                             faults=faults, seed=args.seed).start()
    control = await ControlServer(proxy, args.control).start()
    print(f"fault proxy listening on 127.0.0.1:{proxy.port} -> {args.upstream}; "
          f"control on 127.0.0.1:{control.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await control.close()
        await proxy.close()


def cmd_proxy(args: argparse.Namespace) -> int:
    asyncio.run(_serve(args))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    changes = dict(_assignment(a) for a in args.settings)
    refuse = None if args.refuse is None else args.refuse == "on"
    with ControlClient(args.control) as client:
        print(json.dumps(client.set(args.direction, refuse, **changes), indent=1))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with ControlClient(args.control) as client:
        for key, value in client.stats().items():
            print(f"{key:<28} {value}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    with ControlClient(args.control) as client:
        client.clear()
    print("all faults off")
    return 0


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy", help="run a fault proxy in front of HOST:PORT")
    p.add_argument("--upstream", required=True, help="HOST:PORT of the service (loopback)")
    p.add_argument("--listen", type=int, default=0, help="port to listen on (0: a free one)")
    p.add_argument("--control", type=int, default=0, help="control port (0: a free one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the jitter and random drops")
    p.add_argument("--direction", default="both", choices=["both", "upstream", "downstream"],
                   help="which direction the fault options below apply to")
    p.add_argument("--latency-ms", dest="latency_ms", type=float)
    p.add_argument("--jitter-ms", dest="jitter_ms", type=float)
    p.add_argument("--bandwidth-bps", dest="bandwidth_bps", type=float, help="bytes per second")
    p.add_argument("--drop-after-bytes", dest="drop_after_bytes", type=int)
    p.add_argument("--drop-probability", dest="drop_probability", type=float)
    p.add_argument("--blackhole", action="store_true")
    p.add_argument("--refuse", action="store_true", default=None)
    p.set_defaults(func=cmd_proxy)
    for name, func, text in (("set", cmd_set, "change faults of a running proxy"),
                             ("stats", cmd_stats, "print a running proxy's counters"),
                             ("clear", cmd_clear, "turn every fault off")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--control", type=int, required=True, help="the proxy's control port")
        p.set_defaults(func=func)
        if name == "set":
            p.add_argument("--direction", default="both",
                           choices=["both", "upstream", "downstream"])
            p.add_argument("--refuse", choices=["on", "off"])
            p.add_argument("settings", nargs="*", metavar="NAME=VALUE")
    return parser


@cli.entry(PROG, input_errors=(FaultError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return args.func(args)
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
