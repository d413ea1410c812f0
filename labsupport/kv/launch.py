"""Starting servers as child processes: ours (``python -m labsupport.kv``) and real Redis.

Used by the benchmark, the notebook and the fault tests, so all three start servers the same
way: through :class:`labsupport.measure.BackgroundProcess` (own process group, optional CPU
pinning, stopped on the way out), listening on 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import sys
import time

from labsupport.measure import BackgroundProcess, find_peer, free_port
from labsupport.services.brokers import redis_argv

from .resp import NEED_DATA, ReplyParser, encode_command


def kv_process(dir: str, port: int | None = None, appendonly: bool = False,
               appendfsync: str = "everysec", replicaof: tuple[str, int] | None = None,
               cpu=None) -> BackgroundProcess:
    """Our server as a child process (not started: use it as a context manager)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "labsupport.kv", "--port", str(port), "--dir", dir,
            "--appendonly", "yes" if appendonly else "no", "--appendfsync", appendfsync]
    if replicaof:
        argv += ["--replicaof", replicaof[0], str(replicaof[1])]
    return BackgroundProcess(argv, port=port, cpu=cpu, name="kv")


def redis_process(dir: str, port: int | None = None, appendonly: bool = False,
                  appendfsync: str = "everysec", cpu=None) -> BackgroundProcess | None:
    """Real redis-server as a child process, or None when it is not installed."""
    exe = find_peer("redis-server")
    if exe is None or not exe.startswith("/"):
        return None
    port = port or free_port()
    argv = redis_argv(exe, port, dir, appendonly=appendonly, appendfsync=appendfsync,
                      databases=16)  # 16 databases, as ours
    return BackgroundProcess(argv, port=port, cpu=cpu, name="redis-server")


class RawClient:
    """A minimal blocking RESP client: send commands, read decoded replies (no client library
    in the way, so tests and the notebook see exactly what the server sent)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.parser = ReplyParser()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args):
        self.sock.sendall(encode_command([a if isinstance(a, bytes) else str(a).encode()
                                          for a in args]))
        return self.read()

    def read(self):
        while True:
            r = self.parser.next_reply()
            if r is not NEED_DATA:
                return r
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.parser.feed(data)

    def read_raw_until_closed(self, timeout_s: float = 2.0) -> bytes:
        """Everything the server sends until it closes the connection."""
        self.sock.settimeout(timeout_s)
        out = bytearray(self.parser.take_rest())
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            out += data
        return bytes(out)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
