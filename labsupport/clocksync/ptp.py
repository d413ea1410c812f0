"""PTP-lite: the master and slave state machines of two-step IEEE 1588 sync, sans IO.

The exchange (end-to-end delay mechanism, two-step clock)::

    master                              slave
      |--- Sync (seq n, two_step) ------->|  t2 = receive stamp
      |  t1 = transmit stamp of the Sync  |
      |--- Follow_Up (seq n, t1) -------->|
      |<-- Delay_Req (seq n) -------------|  t3 = transmit stamp
      |  t4 = receive stamp               |
      |--- Delay_Resp (seq n, t4) ------->|  offset, delay -> filter -> servo -> clock

Neither class touches a socket or a clock: the shell (the simulated node in
:mod:`.simulation`, the UDP process in :mod:`.real`) takes the timestamps where the hardware or
the kernel would and hands them in. :class:`PtpSlave` keeps one exchange in progress (a newer
Sync abandons an older one, as a lost Follow_Up or Delay_Resp must not wedge it) and reports
every completed exchange as an :class:`Exchange`, accepted by the filter or not.

:func:`best_master` is the dataset comparison of the best-master-clock algorithm (clause 9.3.4,
without the topology tie-breaks): priority1, clock class, accuracy, variance, priority2, identity;
lower wins.
"""

from __future__ import annotations

from typing import NamedTuple

from .clock import VirtualClock
from .codec import ANNOUNCE, DELAY_REQ, DELAY_RESP, FOLLOW_UP, SYNC, Message
from .errors import ClockConfigError
from .servo import LuckyPacketFilter, PassAll, PIServo, Sample, ServoAction

Filter = PassAll | LuckyPacketFilter  # or MinDelayFilter: anything with update(sample, y)

__all__ = ["PtpMaster", "PtpSlave", "Exchange", "best_master"]


class Exchange(NamedTuple):
    """One completed four-timestamp exchange and what the slave did with it."""

    sequence_id: int
    t1: int
    t2: int
    t3: int
    t4: int
    offset_ns: float
    delay_ns: float
    accepted: bool
    action: ServoAction | None


class PtpMaster:
    """The master side: numbers Syncs, answers Delay_Reqs with the receive stamp ``t4``."""

    def __init__(self, identity: bytes = b"MASTER\x00\x01", *, priority1: int = 128,
                 clock_class: int = 6, log_interval: int = -4) -> None:
        self.identity, self.priority1, self.clock_class = identity, priority1, clock_class
        self.log_interval = log_interval
        self.seq = 0

    def sync(self) -> Message:
        self.seq = (self.seq + 1) & 0xFFFF
        return Message(SYNC, self.seq, clock_identity=self.identity, two_step=True,
                       log_interval=self.log_interval)

    def follow_up(self, seq: int, t1: int) -> Message:
        return Message(FOLLOW_UP, seq, timestamp_ns=t1, clock_identity=self.identity,
                       log_interval=self.log_interval)

    def delay_resp(self, req: Message, t4: int) -> Message:
        return Message(DELAY_RESP, req.sequence_id, timestamp_ns=t4, clock_identity=self.identity,
                       requesting_identity=req.clock_identity, requesting_port=req.port)

    def announce(self) -> Message:
        return Message(ANNOUNCE, self.seq, clock_identity=self.identity, priority1=self.priority1,
                       clock_class=self.clock_class, gm_identity=self.identity)


class PtpSlave:
    """The slave side: collects t1..t4, filters, runs the servo and steers ``clock``."""

    def __init__(self, clock: VirtualClock, *, servo: PIServo | None = None,
                 filter: Filter | None = None, identity: bytes = b"SLAVE\x00\x00\x01",
                 steer: bool = True) -> None:
        self.clock = clock
        self.servo = servo if servo is not None else PIServo()
        self.filter = filter if filter is not None else PassAll()
        self.identity, self.steer = identity, steer
        self._seq: int | None = None
        self._t1: int | None = None  # the exchange in progress; None: not yet known
        self._t2 = 0
        self._t3: int | None = None
        self._corr = 0.0
        self._t2_raw: int | None = None
        self.exchanges = 0

    def on_sync(self, msg: Message, t2: int) -> None:
        self._seq, self._corr = msg.sequence_id, msg.correction_ns
        self._t1, self._t2, self._t3 = None, t2, None
        self._t2_raw = self.clock.to_raw(t2)  # on the raw counter: the steering cannot move it

    def on_follow_up(self, msg: Message) -> Message | None:
        """The Delay_Req to send now (the shell stamps its departure and calls
        :meth:`delay_req_sent`), or None for a Follow_Up of no Sync in progress."""
        if msg.sequence_id != self._seq or self._t1 is not None:
            return None
        self._t1 = msg.timestamp_ns
        self._corr += msg.correction_ns
        return Message(DELAY_REQ, msg.sequence_id, clock_identity=self.identity)

    def delay_req_sent(self, seq: int, t3: int) -> None:
        if seq == self._seq and self._t1 is not None:
            self._t3 = t3

    def on_delay_resp(self, msg: Message) -> Exchange | None:
        t3 = self._t3
        if (msg.sequence_id != self._seq or t3 is None
                or msg.requesting_identity != self.identity):
            return None
        self._seq = None
        # a transparent clock's residence time (correction) is not path delay: take it out
        t1_origin, t2 = self._t1, self._t2
        t1 = t1_origin + round(self._corr)
        t4 = msg.timestamp_ns - round(msg.correction_ns)
        ms, sm = t2 - t1, t4 - t3
        self.exchanges += 1
        clock, servo = self.clock, self.servo
        raw = clock.raw()
        # the lucky-packet filter carries samples forward with the servo's frequency estimate
        y = getattr(servo, "integral_ppb", None) if getattr(servo, "locked", False) else None
        chosen = self.filter.update(
            Sample(ms, sm, raw, clock.to_virtual(raw), t1_origin, self._t2_raw), y)
        action = servo.sample(chosen[0], t3) if chosen is not None else None
        if action is not None and self.steer:
            if action.step_ns:
                clock.step(action.step_ns)
            clock.adjust_frequency(action.freq_ppb, raw)  # re-anchored where it was read
        # offset and delay: servo.offset_and_delay, inlined
        return Exchange(msg.sequence_id, t1, t2, t3, t4, (ms - sm) / 2, (ms + sm) / 2,
                        chosen is not None, action)


def best_master(announces: list[Message]) -> Message:
    """The Announce of the best master: lowest (priority1, class, accuracy, variance,
    priority2, identity)."""
    if not announces:
        raise ClockConfigError("best_master: no Announce messages")
    return min(announces, key=lambda a: (a.priority1, a.clock_class, a.clock_accuracy,
                                         a.variance, a.priority2, a.gm_identity))
