"""Two private network namespaces joined by a veth pair: a two-host network inside one machine.

Some real tools will not work on the loopback. tcpreplay writes whole Ethernet frames through a
packet socket, and frames injected that way on ``lo`` are not delivered to the machine's own UDP
sockets here. ptp4l wants a real Ethernet interface. A veth pair is one: a frame sent into one
end comes out of the other, so each end sits in a namespace of its own, with its own address,
and nothing leaves the machine.

:class:`VethPair` makes namespaces ``<tag>a`` and ``<tag>b`` (the tag carries the process id, so
parallel runs do not collide), puts one end of a veth pair in each with ``10.213.0.1/30`` and
``10.213.0.2/30``, brings them up, and deletes it all on the way out. Deleting a namespace deletes
its end of the pair, which takes the other end with it. :meth:`VethPair.argv` runs a command
inside one side (``ip netns exec``). It needs root and iproute2's ``ip``. When one is missing,
:func:`unavailable` names what, and the caller skips with that line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import MeasureError

__all__ = ["VethPair", "Side", "NetnsError", "unavailable"]


class NetnsError(MeasureError):
    """A namespace or a veth pair could not be made (the message names the step)."""


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip (Debian package iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


@dataclass(frozen=True, slots=True)
class Side:
    """One end of the pair: its namespace, interface, address and Ethernet address."""

    netns: str
    ifname: str
    ip: str
    mac: bytes


class VethPair:
    """Namespaces ``a`` and ``b`` joined by a veth pair; a context manager."""

    def __init__(self, tag: str = "lab", *, subnet: str = "10.213.0") -> None:
        self.tag = f"{tag}{os.getpid() % 100000}"
        self._ip = shutil.which("ip") or "ip"
        self._subnet = subnet
        self.a: Side | None = None
        self.b: Side | None = None
        self._made: list[str] = []

    def _run(self, *args: str) -> str:
        done = subprocess.run([self._ip, *args], capture_output=True, text=True, timeout=30)
        if done.returncode:
            raise NetnsError(f"ip {' '.join(args[:4])}: {done.stderr.strip() or 'failed'}")
        return done.stdout

    def open(self) -> VethPair:
        reason = unavailable()
        if reason:
            raise NetnsError(reason)
        ns = {s: f"{self.tag}{s}" for s in "ab"}
        itf = {s: f"{self.tag}v{s}" for s in "ab"}
        addr = {"a": f"{self._subnet}.1", "b": f"{self._subnet}.2"}
        try:
            for s in "ab":
                self._run("netns", "add", ns[s])
                self._made.append(ns[s])
            self._run("link", "add", itf["a"], "type", "veth", "peer", "name", itf["b"])
            for s in "ab":
                self._run("link", "set", itf[s], "netns", ns[s])
                self._run("-n", ns[s], "addr", "add", f"{addr[s]}/30", "dev", itf[s])
                self._run("-n", ns[s], "link", "set", itf[s], "up")
                self._run("-n", ns[s], "link", "set", "lo", "up")
            sides = {}
            for s in "ab":
                mac = self.argv(ns[s], ["cat", f"/sys/class/net/{itf[s]}/address"])
                text = subprocess.run(mac, capture_output=True, text=True, timeout=30).stdout
                sides[s] = Side(ns[s], itf[s], addr[s], bytes.fromhex(text.strip().replace(":", "")))
        except (NetnsError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            self.close()
            raise NetnsError(str(exc)) from None
        self.a, self.b = sides["a"], sides["b"]
        return self

    def argv(self, netns: str | Side, argv: list[str]) -> list[str]:
        """``argv`` to run inside a namespace (a :class:`Side` or its name)."""
        name = netns.netns if isinstance(netns, Side) else netns
        return [self._ip, "netns", "exec", name, *argv]

    def close(self) -> None:
        for name in reversed(self._made):
            subprocess.run([self._ip, "netns", "del", name], capture_output=True, timeout=30)
        self._made.clear()

    def __enter__(self) -> VethPair:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def exists(name: str) -> bool:
    """Whether a namespace of that name exists (what the tests check after a close)."""
    return Path("/run/netns", name).exists()
