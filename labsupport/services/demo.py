"""Two tiny servers to supervise in the tour and the tests: a TCP line echo and an HTTP front.

``python -m labsupport.services.demo echo --port P`` answers every line with the same line;
``python -m labsupport.services.demo front --port P --backend HOST:PORT`` answers
``GET /health`` with 200 and ``GET /echo/TEXT`` by sending TEXT to the echo backend over TCP and
returning its answer. Both print ``listening on 127.0.0.1:PORT`` once bound (``--port 0`` binds a
port the OS picks, which a :class:`~.spec.LineProbe` then reads from that line). They are here so
a supervised two-process system can be shown without any lab's server; they are not a model of
a server (the HTTP lab is).
"""

from __future__ import annotations

import asyncio
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from labsupport import cli

from .spec import HOST, ServiceError


async def _echo(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, HOST, port)
    print(f"listening on {HOST}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def _front(port: int, backend: tuple[str, int]) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path == "/health":
                self._reply(200, b"ok\n")
            elif self.path.startswith("/echo/"):
                text = unquote(self.path[len("/echo/"):]).encode()
                with socket.create_connection(backend, timeout=5) as s:
                    s.sendall(text + b"\n")
                    answer = s.makefile("rb").readline()
                self._reply(200, answer)
            else:
                self._reply(404, b"not found\n")

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass  # one line per request would drown the log

    with ThreadingHTTPServer((HOST, port), Handler) as httpd:
        print(f"listening on {HOST}:{httpd.server_address[1]}", flush=True)
        httpd.serve_forever()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ServiceError(f"--backend {text!r} is not HOST:PORT")
    return host, int(port)


@cli.entry("python -m labsupport.services.demo", input_errors=(ServiceError,))
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m labsupport.services.demo", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    echo = sub.add_parser("echo", help="a TCP line echo server")
    echo.add_argument("--port", type=int, default=0)
    front = sub.add_parser("front", help="an HTTP server asking the echo backend")
    front.add_argument("--port", type=int, default=0)
    front.add_argument("--backend", required=True, help="HOST:PORT of the echo server")
    args = parser.parse_args(argv)
    if args.cmd == "echo":
        asyncio.run(_echo(args.port))
    else:
        _front(args.port, _hostport(args.backend))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
