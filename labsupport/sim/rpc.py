"""Request/reply on the simulated network, the way MIT 6.5840's ``labrpc`` offers it.

``labrpc``'s ``Call`` returns ``ok=false`` when the request or the reply is lost, after a
timeout; a server handler runs once per request that arrives (so a duplicated request runs it
twice: at-most-once is the caller's job, as in the labs). Here, with no threads, a call takes a
callback instead of blocking::

    class Client(RpcNode):
        def on_start(self):
            self.call("kv", "get", ("x",), timeout_ns=50 * MS, on_reply=self.got)

        def got(self, ok, value):   # ok=False: no reply within the timeout
            ...

    class Server(RpcNode):
        def rpc_get(self, src, key):
            return self.data.get(key)

A request is ``RpcRequest(rid, method, args)``; the reply carries the same ``rid``. The caller
keeps one pending callback per ``rid`` and a timer named ``("rpc", rid)``; whichever comes first,
the reply or the timer, pops the callback, so the callback runs exactly once and a late or
duplicated reply is ignored (and counted in ``late_replies``). Messages that are not RPCs go to
``on_other_message``, timers that are not RPC timeouts to ``on_other_timer``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from .node import Node

__all__ = ["RpcNode", "RpcRequest", "RpcReply"]


@dataclass(frozen=True, slots=True)
class RpcRequest:
    rid: int
    method: str
    args: tuple


@dataclass(frozen=True, slots=True)
class RpcReply:
    rid: int
    value: Any


class RpcNode(Node):
    """A node that can call ``rpc_<method>`` handlers on other nodes and serve its own."""

    _pending: dict[int, Callable[[bool, Any], None]]
    _next_rid: int
    late_replies: int

    def _rpc_state(self) -> dict[int, Callable[[bool, Any], None]]:
        try:
            return self._pending
        except AttributeError:  # first use on this incarnation: no __init__ needed
            self._pending, self._next_rid, self.late_replies = {}, 0, 0
            return self._pending

    def call(self, dst: str, method: str, args: tuple = (), *, timeout_ns: int,
             on_reply: Callable[[bool, Any], None]) -> int:
        """Send ``method(*args)`` to ``dst``; ``on_reply(True, value)`` or, after ``timeout_ns``
        with no reply, ``on_reply(False, None)``. Returns the request id."""
        pending = self._rpc_state()
        self._next_rid += 1
        rid = self._next_rid
        pending[rid] = on_reply
        self.send(dst, RpcRequest(rid, method, tuple(args)))
        self.set_timer(timeout_ns, ("rpc", rid))
        return rid

    def on_message(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is RpcRequest:
            handler = getattr(self, "rpc_" + msg.method, None)
            if handler is None:
                raise AttributeError(f"{type(self).__name__} {self.name!r} has no rpc_{msg.method} "
                                     f"(called by {src!r})")
            self.send(src, RpcReply(msg.rid, handler(src, *msg.args)))
        elif kind is RpcReply:
            callback = self._rpc_state().pop(msg.rid, None)
            if callback is None:
                self.late_replies += 1
                return
            self.cancel_timer(("rpc", msg.rid))
            callback(True, msg.value)
        else:
            self.on_other_message(src, msg)

    def on_timer(self, name: Hashable) -> None:
        if type(name) is tuple and len(name) == 2 and name[0] == "rpc":
            callback = self._rpc_state().pop(name[1], None)
            if callback is not None:
                callback(False, None)
        else:
            self.on_other_timer(name)

    def on_other_message(self, src: str, msg: Any) -> None:
        """Messages that are neither requests nor replies."""

    def on_other_timer(self, name: Hashable) -> None:
        """Timers that are not RPC timeouts."""
