"""``python -m labsupport.rpc``: serve the demo desk or the interop service, and call methods.

    python -m labsupport.rpc serve --port 50051 [--transport native|grpc]
    python -m labsupport.rpc call --port 50051 trading.Desk/Quote '{"symbol": "ACME"}'
    python -m labsupport.rpc interop-server --port 50052 [--transport grpc|native]

``call`` prints each response as one JSON line; a streaming request argument is a JSON list
(one message per element). A call that ends with a non-OK status prints ``CODE: message``
and exits 2, like any input error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .. import cli
from .errors import RpcError
from .service import Kind, specs_of
from .threaded import run_forever

PROG = "python -m labsupport.rpc"


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0..65535")
    return port


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, default in (("serve", "native"), ("interop-server", "grpc")):
        p = sub.add_parser(name, help=f"serve the {'demo desk' if name == 'serve' else 'interop service'}")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=port_number, default=0, help="0: any free port (printed)")
        p.add_argument("--transport", choices=("native", "grpc"), default=default)
    p = sub.add_parser("call", help="call one method of the demo desk")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, required=True)
    p.add_argument("--transport", choices=("native", "grpc"), default="native")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("method", help="Service/Method, e.g. trading.Desk/Quote")
    p.add_argument("request", help="the request as JSON (a list for a client stream)")
    return parser


async def _serve(args: Any, servicer: object) -> None:
    from .grpc_server import GrpcServer
    from .native import NativeServer
    cls = NativeServer if args.transport == "native" else GrpcServer
    server = await cls(servicer, host=args.host, port=args.port).start()
    print(f"serving {type(servicer).__rpc_service__} ({args.transport}) on "
          f"{args.host}:{server.port}", flush=True)
    await asyncio.Event().wait()


async def _call(args: Any) -> None:
    from .client import Channel
    from .demo import TradingDesk
    specs = {path: spec for path, spec in specs_of(TradingDesk).values()}
    path = "/" + args.method.lstrip("/")
    if path not in specs:
        raise cli.InputError(f"unknown method {args.method} (known: "
                             f"{', '.join(p[1:] for p in sorted(specs))})", field="method")
    try:
        request = json.loads(args.request)
    except json.JSONDecodeError as exc:
        raise cli.InputError(f"not JSON: {exc.msg}", field="request", offset=exc.pos) from None
    kind = specs[path].kind
    if kind.streams_requests and not isinstance(request, list):
        raise cli.InputError("a client-streaming method takes a JSON list", field="request")
    async with Channel(args.host, args.port, transport=args.transport,
                       serializer="msgpack") as channel:
        if kind is Kind.UNARY:
            responses = [await channel.unary(path, request, timeout=args.timeout)]
        elif kind is Kind.CLIENT_STREAM:
            responses = [await channel.client_stream(path, request, timeout=args.timeout)]
        else:
            if kind is Kind.SERVER_STREAM:
                call = await channel.server_stream(path, request, timeout=args.timeout)
            else:
                call = await channel.bidi(path, timeout=args.timeout)
                for item in request:
                    await call.write(item)
                await call.done_writing()
            responses = [item async for item in call]
    for response in responses:
        print(json.dumps(response))


@cli.entry(PROG, input_errors=(RpcError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "call":
        asyncio.run(_call(args))
        return 0
    if args.command == "serve":
        from .demo import TradingDesk
        servicer: object = TradingDesk()
    else:
        from .interop import TestService
        servicer = TestService()
    run_forever(_serve(args, servicer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
