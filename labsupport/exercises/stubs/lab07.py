"""Lab 07 exercises: edit these, then run ``python -m labsupport check 07``.

Each function below is plugged into the RPC lab's code by its check
(``labsupport/exercises/lab07.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations


# 07.1 The native frame header.
# Return the 10 header bytes of a native frame: payload length (u32), stream id (u32),
# type (u8), flags (u8), all big-endian (network order). Hint: struct.pack.
def frame_header(length: int, stream_id: int, ftype: int, flags: int) -> bytes:
    raise NotImplementedError


# 07.2 gRPC's grpc-timeout header.
# Return the header value for a timeout of `seconds`: at most 8 digits then one unit
# (H hours, M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds). The value
# must never be shorter than asked, nor more than 0.1% longer.
def grpc_timeout(seconds: float) -> str:
    return f"{int(seconds)}S"  # loses every fraction of a second


# 07.3 Capped exponential backoff.
# The delay before retry number `attempt` (0 for the first retry): `initial` times
# `multiplier` to the power `attempt`, never more than `maximum`.
def backoff(attempt: int, initial: float, multiplier: float, maximum: float) -> float:
    return initial  # never grows
