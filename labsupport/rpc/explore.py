"""What the notebook shows, as functions: the bytes of one call, codec and compression costs,
multiplexing, calls under network faults, and an ipywidgets explorer of serialization costs.

Each function returns data (bytes, a DataFrame, a dict) that a cell displays; the widget calls
:func:`serialization_costs` with the sliders' values, so no logic lives in the notebook.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pandas as pd

from . import frames, grpcwire
from .errors import RpcError, Status, StatusCode
from .proto import interop_pb2 as pb
from .serializers import get_serializer
from .threaded import run_sync

QUOTE = {"symbol": "ACME"}


def hexdump(data: bytes, width: int = 16) -> str:
    """Offset, hex and printable ASCII, 16 bytes a line, as ``xxd`` prints them."""
    lines = []
    for i in range(0, len(data), width):
        chunk = data[i:i + width]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{i:04x}  {chunk.hex(' '):<{width * 3}} {text}")
    return "\n".join(lines)


def native_call_bytes(request: Any = QUOTE) -> dict[str, bytes]:
    """The request and response bytes of one unary Quote call on the native transport."""
    ser = get_serializer("msgpack")
    reply = {"symbol": "ACME", "bid": 99.99, "ask": 100.01}
    return {"request": frames.headers(1, "/trading.Desk/Quote", 1.0)
            + frames.data(1, ser.encode(request), end_stream=True),
            "response": frames.data(1, ser.encode(reply)) + frames.end(1, Status())}


def grpc_call_bytes(request: Any = QUOTE) -> dict[str, bytes]:
    """The same call in gRPC's wire format: the HTTP/2 frames a client sends, after its preface
    and SETTINGS (``h2`` encodes them; the headers are HPACK-compressed)."""
    import h2.config
    import h2.connection
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    setup = conn.data_to_send()
    conn.send_headers(1, [(":method", "POST"), (":scheme", "http"),
                          (":path", "/trading.Desk/Quote"), (":authority", "127.0.0.1"),
                          ("te", "trailers"), ("content-type", "application/grpc+msgpack"),
                          ("grpc-timeout", grpcwire.encode_timeout(1.0))])
    conn.send_data(1, grpcwire.prefix(get_serializer("msgpack").encode(request)),
                   end_stream=True)
    return {"connection setup": setup, "request": conn.data_to_send()}


def _sample(n: int) -> tuple[dict[str, Any], Any]:
    params = [{"size": 1000 + i, "interval_us": 10 * i} for i in range(n)]
    as_dict = {"response_type": 0, "response_parameters": params, "payload": {"body": "x" * 32}}
    as_proto = pb.StreamingOutputCallRequest(
        response_parameters=[pb.ResponseParameters(**p) for p in params],
        payload=pb.Payload(body=b"x" * 32))
    return as_dict, as_proto


def serialization_costs(n_items: int = 10, repeats: int = 2000) -> pd.DataFrame:
    """Encode and decode time (µs) and size (bytes) of one message with ``n_items`` repeated
    entries, for JSON, msgpack and protobuf (the same content in each)."""
    as_dict, as_proto = _sample(n_items)
    rows = []
    for name, msg, cls in (("json", as_dict, None), ("msgpack", as_dict, None),
                           ("proto", as_proto, pb.StreamingOutputCallRequest)):
        ser = get_serializer(name)
        blob = ser.encode(msg)
        t = time.perf_counter()
        for _ in range(repeats):
            ser.encode(msg)
        enc = (time.perf_counter() - t) / repeats
        t = time.perf_counter()
        for _ in range(repeats):
            ser.decode(blob, cls)
        dec = (time.perf_counter() - t) / repeats
        rows.append({"codec": name, "bytes": len(blob), "encode_us": round(enc * 1e6, 2),
                     "decode_us": round(dec * 1e6, 2)})
    return pd.DataFrame(rows).set_index("codec")


def market_snapshot(levels: int = 20) -> dict[str, Any]:
    """A book snapshot as a market-data stream sends one: repetitive, so it compresses well."""
    return {"symbol": "ACME", "seq": 1, "bids": [[100.0 - i / 100, 100 * (i + 1)]
                                                  for i in range(levels)],
            "asks": [[100.01 + i / 100, 100 * (i + 1)] for i in range(levels)]}


def compression_sizes(levels: tuple[int, ...] = (1, 20, 200)) -> pd.DataFrame:
    """Bytes on the wire of one msgpack book snapshot, plain, gzip and deflate (a small
    message grows: compression pays only past a few hundred bytes)."""
    from .compression import CODECS
    ser = get_serializer("msgpack")
    rows = []
    for n in levels:
        blob = ser.encode(market_snapshot(n))
        rows.append({"levels": n, "plain": len(blob),
                     **{name: len(codec.compress(blob)) for name, codec in CODECS.items()}})
    return pd.DataFrame(rows).set_index("levels")


def multiplexing(calls: int = 200, transport: str = "native") -> dict[str, float]:
    """``calls`` unary calls, one after another, then all at once on one connection: seconds."""
    from .client import Channel
    from .demo import TradingDesk
    from .grpc_server import GrpcServer
    from .native import NativeServer

    async def main() -> dict[str, float]:
        cls = NativeServer if transport == "native" else GrpcServer
        async with cls(TradingDesk()) as server, \
                Channel("127.0.0.1", server.port, transport=transport) as channel:
            desk = channel.stub(TradingDesk)
            await desk.Quote(QUOTE)
            t = time.perf_counter()
            for _ in range(calls):
                await desk.Quote(QUOTE, timeout=10)
            sequential = time.perf_counter() - t
            t = time.perf_counter()
            await asyncio.gather(*[desk.Quote(QUOTE, timeout=10) for _ in range(calls)])
            return {"sequential_s": sequential, "concurrent_s": time.perf_counter() - t}

    return run_sync(main())


def calls_under_faults(latency_ms: float = 300.0, timeout_s: float = 0.1,
                       transport: str = "native") -> dict[str, str]:
    """One Quote call per fault through the fault proxy, and how each ended."""
    from ..faults.threaded import start_proxy
    from .client import Channel, RetryPolicy
    from .demo import TradingDesk
    from .threaded import ServerThread

    cases = {"no fault": {}, f"{latency_ms:g} ms latency": {"latency_ms": latency_ms},
             "black hole": {"direction": "upstream", "blackhole": True},
             "connection cut": {"direction": "downstream", "drop_after_bytes": 0}}
    out = {}
    with ServerThread(TradingDesk(), transport=transport) as server, \
            start_proxy(("127.0.0.1", server.port)) as proxy:
        for name, fault in cases.items():
            proxy.clear()
            if fault:
                proxy.set(**fault)

            async def one() -> str:
                async with Channel("127.0.0.1", proxy.port, transport=transport,
                                   retry=RetryPolicy(max_attempts=1)) as ch:
                    try:
                        await ch.stub(TradingDesk).Quote(QUOTE, timeout=timeout_s)
                    except RpcError as exc:
                        return exc.code.name
                    return StatusCode.OK.name

            out[name] = run_sync(one())
    return out


def explorer() -> Any:
    """Sliders for the message size; shows :func:`serialization_costs` for each setting."""
    import ipywidgets as widgets
    from IPython.display import display

    def show(n_items: int = 10, repeats: int = 500) -> None:
        display(serialization_costs(n_items, repeats))

    ui = widgets.interactive(show, n_items=widgets.IntSlider(10, 0, 500, 10),
                             repeats=widgets.IntSlider(500, 100, 5000, 100))
    show()  # the default output, so the stored notebook shows a result
    return ui


def decode_many(n: int = 10_000, payload: int = 32, batch: bool = True) -> int:
    """Decode ``n`` DATA frames fed in 64 KiB chunks, with ``feed`` (what the transports call)
    or one ``next_event`` per frame: the decoder's hot loop, for profiling."""
    blob = frames.data(1, b"x" * payload) * n
    dec = frames.Decoder()
    count = 0
    for i in range(0, len(blob), 65536):
        if batch:
            for ev in dec.feed(blob[i:i + 65536]):
                count += len(ev.payloads) if isinstance(ev, frames.Messages) else 1
        else:
            dec.receive_data(blob[i:i + 65536])
            for _ in dec:
                count += 1
    return count
