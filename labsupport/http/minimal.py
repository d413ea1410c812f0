"""The two smallest possible HTTP "servers": one on ``asyncio.Protocol``, one on streams.

Neither parses anything but the blank line that ends a request head, and both answer every
request with the same fixed bytes. They are not servers to use: they measure the floor.
The Protocol one is the ceiling for pure Python on a machine (everything a real server does
costs on top of it); the pair shows what the streams API (``StreamReader.readuntil`` in a
coroutine per connection) costs over a bare ``data_received`` callback.

``python -m labsupport.http.minimal protocol|streams --port P``
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from .. import cli

REPLY = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\n"
         b"Hello, World!")


class MinimalProtocol(asyncio.Protocol):
    """Count the blank lines in what arrived; write that many replies in one write."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        data = self.tail + data if self.tail else data
        n = data.count(b"\r\n\r\n")
        self.tail = data[data.rfind(b"\r\n\r\n") + 4:] if n else data
        if n:
            self.transport.write(REPLY * n)


async def handle_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The same with streams: a coroutine per connection awaiting each head."""
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(REPLY)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(kind: str, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    if kind == "protocol":
        server = await loop.create_server(MinimalProtocol, host, port)
    else:
        server = await asyncio.start_server(handle_stream, host, port)
    async with server:
        await server.serve_forever()


@cli.entry("python -m labsupport.http.minimal")
def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m labsupport.http.minimal")
    p.add_argument("kind", choices=["protocol", "streams"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args(argv)
    if not args.no_uvloop:
        from .server import install_uvloop
        install_uvloop()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.kind, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
