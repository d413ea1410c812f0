"""Command line: ``python -m labsupport.http --host 127.0.0.1 --port 8080 --root DIR``.

Serves GET /hello, POST /echo and the files of DIR under /static/, or with ``--app
module:attr`` an ASGI application (FastAPI, Starlette, ...). Stops gracefully on SIGINT or
SIGTERM. Follows the lab's command-line convention (``labsupport.cli``): a bad argument, a
missing ``--root`` directory, an ``--app`` that cannot be loaded or a port in use print one
line and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from typing import Any

from .. import cli
from .errors import AppLoadError, HttpError

PROG = "python -m labsupport.http"

def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _load_app(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise AppLoadError(f"--app wants MODULE:ATTR, got {spec!r}")
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the module asked for (or a parent of it) being absent is bad input; a module
        # that exists but fails to import its own dependencies is a bug with a traceback.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise AppLoadError(f"--app {spec}: no module named {exc.name!r}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AppLoadError(f"--app {spec}: {obj.__name__!r} has no attribute {part!r}")
        obj = getattr(obj, part)
    return obj


def _check_root(root: str) -> None:
    if not os.path.exists(root):
        raise FileNotFoundError(errno.ENOENT, "no such directory (--root)", root)
    if not os.path.isdir(root):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory (--root)", root)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description="HTTP/1.1 server from scratch on asyncio (Lab 01).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8080, help="0 asks the OS for a free port")
    p.add_argument("--root", default=None, help="directory served under /static/")
    p.add_argument("--header-timeout", type=_seconds, default=10.0, metavar="S",
                   help="seconds a client may take to send a request head (default 10)")
    p.add_argument("--keepalive-timeout", type=_seconds, default=5.0, metavar="S")
    p.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                   help="largest request body accepted (413 above; default 1 MiB)")
    p.add_argument("--app", default=None, metavar="MODULE:ATTR", help="serve this ASGI app instead")
    p.add_argument("--no-middleware", action="store_true", help="serve the bare router (benchmarks)")
    p.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio loop")
    p.add_argument("--access-log", action="store_true", help="log one line per request")
    return p


@cli.entry(PROG, input_errors=(HttpError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.access_log else logging.WARNING,
                        format="%(asctime)s %(message)s")
    from .parser import Limits
    from .server import run

    if args.root is not None:
        _check_root(args.root)
    if args.app:
        from .asgi import ASGIAdapter

        sys.path.insert(0, os.getcwd())
        app = ASGIAdapter(_load_app(args.app))
    else:
        from .app import demo_app
        from .middleware import access_log, chain

        app = demo_app(args.root, middleware=not args.no_middleware)
        if args.access_log:
            app = chain(app, access_log())

    def ready(host: str, port: int) -> None:
        print(f"serving on http://{host}:{port}", flush=True)

    run(app, args.host, args.port, use_uvloop=not args.no_uvloop, ready=ready,
        limits=Limits(max_body_bytes=args.max_body), header_timeout=args.header_timeout,
        keepalive_timeout=args.keepalive_timeout, lifespan=args.app is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
