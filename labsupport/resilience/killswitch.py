"""The kill switch: four triggers, one path of its own to the exchange, measured.

What SEC Rule 15c3-5 asks a broker to have, and what Knight Capital did not use in time on
1 August 2012 (45 minutes, over 4 million orders, a loss of 460 million dollars): a control that
stops a desk's trading at once, whatever state its software is in. Triggers:

=================  ===========================================================================
``manual``         an operator presses it (``kill_at_ns`` in a scenario)
``risk``           Lab 06's engine in the OMS raised a breach alert (drawdown, loss)
``order-rate``     the exchange accepted more than ``kill_rate`` desk orders in 100 ms
                   (the runaway-algorithm pattern); counted from the exchange's own notices
``heartbeat``      the OMS has been silent for ``kill_hb_timeout_ns``
=================  ===========================================================================

Action: the trigger is journalled, then ``Kill`` goes straight to the exchange on the switch's
own session (not through the OMS, which may be the thing that is broken or cut off), retried
with backoff until ``KillAck`` comes back. The exchange blocks the desk at its gateway and
cancels every working desk order; the time from trigger to that last cancel is the switch's
latency (measured by the checker from the history). With ``kill_flatten`` the exchange also
closes the desk's position at the mid.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from labsupport.sim import MS

from .component import Component
from .journal import Journal
from .messages import Kill, KillAck, OrderNotice, RiskBreach
from .retry import Backoff

__all__ = ["KillSwitch"]


class KillSwitch(Component):
    PEERS = ("exchange", "oms")

    def start(self) -> None:
        self.journal = Journal(self.disk, "kill")
        self.kill_id = 0
        self.reason = ""
        self.acked = False
        self.notices: deque[int] = deque()
        self.backoff = Backoff(base_ns=2 * MS, cap_ns=20 * MS, max_attempts=1000)
        self.oms_seen = False
        for rec in self.journal.recover():
            self.kill_id, self.reason = rec
        if self.kill_id:
            self._send(0)  # triggered before the crash and maybe never acknowledged
        at = self.ctx.setting("kill_at_ns", None)
        if at is not None and at >= self.now_ns:
            self.set_timer(at - self.now_ns, "manual")
        if self.ctx.setting("kill_hb_timeout_ns", None):
            self.after(5 * MS, "watch")

    def trigger(self, reason: str) -> None:
        if self.kill_id:
            return
        self.kill_id = self.epoch * 1000 + 1
        self.reason = reason
        self.record("trigger", self.kill_id, reason)
        self.journal.append([self.kill_id, reason])
        self._send(0)

    def _send(self, attempt: int) -> None:
        if self.acked:
            return
        self.emit("exchange", Kill(self.kill_id, self.reason, self.ctx.setting("kill_flatten", False)))
        delay = self.backoff.delay_ns(attempt, self.rng)
        if delay is not None:
            self.set_timer(delay, ("resend", attempt + 1))

    def handle(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is KillAck and msg.kill_id == self.kill_id and not self.acked:
            self.acked = True
            self.record("ack", msg.kill_id, msg.cancelled)
        elif kind is RiskBreach:
            self.trigger(f"risk:{msg.metric}")
        elif kind is OrderNotice:
            now, window = self.local_ns(), 100 * MS
            self.notices.append(now)
            while self.notices and self.notices[0] <= now - window:
                self.notices.popleft()
            if len(self.notices) > self.ctx.setting("kill_rate", 200):
                self.trigger("order-rate")

    def timer(self, name: Any) -> None:
        if name == "manual":
            self.trigger("manual")
        elif name == "watch":
            session = self.sessions["oms"]
            timeout = self.ctx.setting("kill_hb_timeout_ns", None)
            if session.last_heard_ns is not None:
                self.oms_seen = True
            if self.oms_seen and not session.alive(self.now_ns, timeout):
                self.trigger("heartbeat")
            self.after(5 * MS, "watch")
        elif name[0] == "resend":
            self._send(name[1])
