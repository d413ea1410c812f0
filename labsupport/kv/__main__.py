"""Command line: ``python -m labsupport.kv --port 6380 --dir DIR [--appendonly yes|no]
[--appendfsync always|everysec|no] [--replicaof HOST PORT]`` (options named as redis-server's).

Runs the server until SIGINT/SIGTERM. A signal is handled between two turns of the event loop,
so it takes effect once the command running then has finished (no command runs for long: glob
matching is polynomial, see :mod:`.glob`). On a clean stop the AOF is fsynced and, for a
replica, a snapshot with the replication id and offset is saved so that a restart resumes with a
partial resync.

Follows :mod:`labsupport.cli`: a bad option, a ``--dir`` that cannot be created, a port in use
or a damaged AOF print one line naming what and where and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from labsupport import cli

from .engine import Config
from .errors import KvError
from .server import KvServer, new_event_loop

PROG = "python -m labsupport.kv"


def _yes_no(text: str) -> bool:
    if text.lower() not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return text.lower() == "yes"


def parse_args(argv=None) -> Config:
    p = cli.ArgumentParser(prog=PROG,
                                description="A mini Redis: RESP2, TTL, AOF + snapshots, replication.")
    p.add_argument("--port", type=int, default=6380, help="TCP port (0: any free port)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    p.add_argument("--dir", default=".", help="directory of the AOF and the snapshot")
    p.add_argument("--appendonly", type=_yes_no, default=False, metavar="yes|no")
    p.add_argument("--appendfsync", choices=("always", "everysec", "no"), default="everysec")
    p.add_argument("--dbfilename", default="dump.kvs")
    p.add_argument("--replicaof", nargs=2, metavar=("HOST", "PORT"))
    p.add_argument("--hz", type=int, default=10, help="cron frequency (active expiry, acks)")
    a = p.parse_args(argv)
    replicaof = None
    if a.replicaof:
        try:
            replicaof = (a.replicaof[0], int(a.replicaof[1]))
        except ValueError:
            p.error(f"--replicaof: port must be an integer, got {a.replicaof[1]!r}")
    return Config(port=a.port, bind=a.bind, dir=a.dir, appendonly=a.appendonly,
                  appendfsync=a.appendfsync, dbfilename=a.dbfilename, replicaof=replicaof,
                  hz=a.hz)


async def serve(config: Config) -> None:
    server = KvServer(config)
    try:
        await server.start()
    except OSError as e:
        if e.filename:                    # the data directory or one of its files
            raise
        raise KvError(f"cannot listen on {config.bind}:{config.port}: "
                      f"{e.strerror or e}") from e
    aof = "yes" if config.appendonly else "no"
    print(f"kv: listening on {config.bind}:{server.port} ({server.load_report}; "
          f"appendonly {aof}, appendfsync {config.appendfsync})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(save_snapshot=server.engine.master_link is not None)
    print("kv: stopped", flush=True)


@cli.entry(PROG, input_errors=(KvError,))
def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["conformance"]:   # Redis's own test suite: see .conformance
        from .conformance import main as conformance_main
        return conformance_main(args[1:])
    config = parse_args(argv)
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(config))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
