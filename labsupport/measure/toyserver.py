"""A toy request/response server for trying the instruments: answers each line, can stall.

It replies ``ok\\n`` to every ``\\n``-terminated request, as fast as asyncio allows. With
``--stall-every S --stall-ms M`` it freezes its whole event loop for M milliseconds every S
seconds, as a stop-the-world pause would (a garbage collection, a page-fault storm, a log
rotation holding a lock). That is the server notebook 00 uses to show why closed-loop load
testing hides stalls and open-loop testing, timed from the intended send, does not.

    python -m labsupport.measure.toyserver --port 9000 --stall-every 1 --stall-ms 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Sequence


class _LineEcho(asyncio.Protocol):
    """Answers ``ok\\n`` to every complete line it receives (pipelined lines answered in order)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        data = self.pending + data
        lines = data.count(b"\n")
        self.pending = data[data.rfind(b"\n") + 1 :] if lines else data
        if lines:
            self.transport.write(b"ok\n" * lines)  # type: ignore[attr-defined]


async def _stall_forever(every_s: float, stall_ms: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        time.sleep(stall_ms / 1000)  # deliberately blocks the loop: nothing is served meanwhile


async def serve(host: str, port: int, stall_every_s: float = 0.0, stall_ms: float = 0.0) -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_LineEcho, host, port)
    staller = None
    if stall_every_s > 0 and stall_ms > 0:
        staller = asyncio.create_task(_stall_forever(stall_every_s, stall_ms))
    try:
        async with server:
            await server.serve_forever()
    finally:
        if staller is not None:
            staller.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsupport.measure.toyserver",
                                     description="Answer ok to every line; optionally stall.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stall-every", type=float, default=0.0, metavar="S",
                        help="freeze the event loop every S seconds (0: never)")
    parser.add_argument("--stall-ms", type=float, default=0.0, metavar="MS",
                        help="how long each freeze lasts, in milliseconds")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.stall_every, args.stall_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
