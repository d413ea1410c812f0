"""Command line: ``python -m labsupport.http --host 127.0.0.1 --port 8080 --root DIR``.

Serves GET /hello, POST /echo and the files of DIR under /static/, or with ``--app
module:attr`` an ASGI application (FastAPI, Starlette, ...). Stops gracefully on SIGINT or
SIGTERM. Errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .asgi import ASGIAdapter
from .parser import Limits
from .server import run


def _load_app(spec: str):
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"--app wants module:attribute, got {spec!r}")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labsupport.http",
                                description="HTTP/1.1 server from scratch on asyncio (Lab 01).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--root", default=None, help="directory served under /static/")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                   help="seconds a client may take to send a request head (default 10)")
    p.add_argument("--keepalive-timeout", type=float, default=5.0, metavar="S")
    p.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                   help="largest request body accepted (413 above; default 1 MiB)")
    p.add_argument("--app", default=None, metavar="MODULE:ATTR", help="serve this ASGI app instead")
    p.add_argument("--no-middleware", action="store_true", help="serve the bare router (benchmarks)")
    p.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio loop")
    p.add_argument("--access-log", action="store_true", help="log one line per request")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.access_log else logging.WARNING,
                        format="%(asctime)s %(message)s")
    try:
        if args.root is not None and not os.path.isdir(args.root):
            raise ValueError(f"--root {args.root} is not a directory")
        if args.app:
            sys.path.insert(0, os.getcwd())
            app = ASGIAdapter(_load_app(args.app))
        else:
            from .app import demo_app
            from .middleware import access_log, chain
            app = demo_app(args.root, middleware=not args.no_middleware)
            if args.access_log:
                app = chain(app, access_log())
        limits = Limits(max_body_bytes=args.max_body)

        def ready(host: str, port: int) -> None:
            print(f"serving on http://{host}:{port}", flush=True)

        run(app, args.host, args.port, use_uvloop=not args.no_uvloop, ready=ready, limits=limits,
            header_timeout=args.header_timeout, keepalive_timeout=args.keepalive_timeout,
            lifespan=args.app is not None)
    except (ValueError, ImportError, AttributeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
