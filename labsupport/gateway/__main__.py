"""``python -m labsupport.gateway --config gw.toml``: serve the gateway until SIGINT/SIGTERM.

SIGHUP re-reads the config file and swaps it in without closing the listening socket or any
client connection; a bad file is logged and the running config kept. ``--port`` overrides
``[listen] port`` (0: an OS-assigned port); the bound address is printed on the first line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from labsupport import cli
from labsupport.http import install_uvloop

from .app import GatewayServer
from .config import load_config
from .errors import GatewayError

PROG = "python -m labsupport.gateway"


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="the TOML config file")
    p.add_argument("--host", default=None, help="override [listen] host")
    p.add_argument("--port", type=int, default=None, help="override [listen] port (0: any)")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    p.add_argument("--check", action="store_true", help="check the config and exit")
    return p


@cli.entry(PROG, input_errors=(GatewayError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = load_config(args.config)
    if args.check:
        print(f"{args.config}: ok ({len(config.upstreams)} upstreams, {len(config.routes)} routes)")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not args.no_uvloop:
        install_uvloop()
    asyncio.run(_serve(config, args))
    return 0


async def _serve(config, args) -> None:  # noqa: ANN001 (argparse namespace)
    server = GatewayServer(config, path=args.config)
    host, port = await server.start(args.host, args.port)
    print(f"gateway listening on {host}:{port}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.reload)
    try:
        await stop.wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    sys.exit(main())
