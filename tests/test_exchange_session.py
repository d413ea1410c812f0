"""The FIX session layer and the gateway's validation, sans-IO, message by message."""

from __future__ import annotations

from labsupport.exchange.gateway import Gateway
from labsupport.exchange.session import FixSession, SessionStore
from labsupport.protocols.fix import FixStream, encode


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns

    def advance(self, s: float) -> None:
        self.ns += int(s * 1e9)


def msg(mtype: str, seq: int, *fields: tuple[int, object], sender: str = "C1",
        target: str = "LABX") -> bytes:
    return encode(mtype, [(49, sender), (56, target), (34, seq), (52, "20260101-00:00:00.000"),
                          *fields])


def logon(seq: int = 1, hb: int = 30, **kw: object) -> bytes:
    return msg("A", seq, (98, 0), (108, hb), (141, "Y"), **kw)


def out(session: FixSession) -> list:
    st = FixStream()
    st.feed(session.take_output())
    return list(st)


def new_session(clock: Clock | None = None) -> tuple[FixSession, dict]:
    stores: dict[str, SessionStore] = {}
    s = FixSession(lambda comp: stores.setdefault(comp, SessionStore()),
                   clock=clock or Clock(), wall=lambda: 0.0)
    return s, stores


def active(clock: Clock | None = None) -> FixSession:
    s, _ = new_session(clock)
    assert s.receive(logon()) == []
    out(s)
    return s


def order(seq: int, *extra: tuple[int, object], drop: int | None = None,
          change: dict[int, str] | None = None) -> bytes:
    """A NewOrderSingle numbered ``seq`` (tag ``drop`` left out, tags of ``change`` set)."""
    change = change or {}
    fields = [(11, f"o{seq}"), (55, "AAA"), (54, "1"), (38, "10"), (40, "2"), (44, "100.00"),
              (59, "0"), *extra]
    return msg("D", seq, *[(t, change.get(t, v)) for t, v in fields if t != drop])


def test_logon_is_answered_with_logon_and_heartbeat_interval() -> None:
    s, stores = new_session()
    s.receive(logon(hb=5))
    (reply,) = out(s)
    assert reply.get(35) == "A" and reply.get(108) == "5" and reply.get(49) == "LABX"
    assert reply.get(56) == "C1" and reply.get(34) == "1"
    assert s.state == "active" and stores["C1"].next_in == 2


def test_first_message_must_be_logon() -> None:
    s, _ = new_session()
    s.receive(order(1))
    assert s.closed and "Logon" in s.close_reason


def test_logon_to_wrong_target_or_without_heartbeat_is_refused() -> None:
    s, _ = new_session()
    s.receive(msg("A", 1, (98, 0), (108, 30), target="NYSE"))
    assert s.closed and "LABX" in s.close_reason
    s, _ = new_session()
    s.receive(msg("A", 1, (98, 0)))
    (reply,) = out(s)
    assert s.closed and reply.get(35) == "5" and "HeartBtInt" in reply.get(58)


def test_one_session_per_sender_comp_id() -> None:
    gw = Gateway(["AAA"], lambda m: None, clock=Clock(), wall=lambda: 0.0)
    first, second = gw.connect(), gw.connect()
    gw.receive(first, logon())
    gw.receive(second, logon())
    assert first.state == "active" and second.closed
    assert "already logged on" in out(second)[-1].get(58)
    gw.disconnected(first)
    third = gw.connect()
    gw.receive(third, logon())
    assert third.state == "active"


def test_silence_sends_heartbeat_then_test_request_then_logout() -> None:
    clock = Clock()
    s = active(clock)
    clock.advance(37)  # HeartBtInt 30 s, plus the 20 % allowance for the client
    s.tick()
    kinds = [m.get(35) for m in out(s)]
    assert kinds == ["0", "1"]  # our heartbeat, then a TestRequest: the client was silent
    clock.advance(31)
    s.tick()
    assert s.closed and out(s)[-1].get(35) == "5"


def test_heartbeat_answering_the_test_request_keeps_the_session() -> None:
    clock = Clock()
    s = active(clock)
    clock.advance(37)
    s.tick()
    test_id = [m for m in out(s) if m.get(35) == "1"][0].get(112)
    s.receive(msg("0", 2, (112, test_id)))
    clock.advance(10)
    s.tick()
    assert s.state == "active" and s.test_request is None


def test_test_request_is_answered_with_its_id() -> None:
    s = active()
    s.receive(msg("1", 2, (112, "ping-7")))
    (hb,) = out(s)
    assert hb.get(35) == "0" and hb.get(112) == "ping-7"


def test_gap_sends_resend_request_and_parks_until_filled() -> None:
    s = active()
    assert [m.get(11) for m in s.receive(order(2))] == ["o2"]
    assert s.receive(order(5)) == []  # 3 and 4 are missing
    (rr,) = out(s)
    assert rr.get(35) == "2" and rr.get(7) == "3" and rr.get(16) == "0"
    assert s.receive(order(6)) == [] and out(s) == []  # one ResendRequest per gap
    got = s.receive(order(3, (43, "Y")) + order(4, (43, "Y")))
    assert [m.get(11) for m in got] == ["o3", "o4", "o5", "o6"]
    assert s.store.next_in == 7 and not s.parked


def test_gap_fill_sequence_reset_releases_parked_messages() -> None:
    s = active()
    s.receive(order(4))
    out(s)
    got = s.receive(msg("4", 2, (43, "Y"), (123, "Y"), (36, 4)))
    assert [m.get(11) for m in got] == ["o4"] and s.store.next_in == 5


def test_sequence_reset_reset_mode_ignores_msg_seq_num() -> None:
    s = active()
    s.receive(msg("4", 99, (123, "N"), (36, 20)))
    assert s.store.next_in == 20


def test_seq_too_low_logs_out_but_poss_dup_is_ignored() -> None:
    s = active()
    s.receive(order(2))
    assert s.receive(order(2, (43, "Y"))) == [] and s.state == "active"
    s.receive(order(2))
    (lo,) = out(s)
    assert lo.get(35) == "5" and "too low" in lo.get(58) and s.closed


def test_resend_request_resends_reports_and_gap_fills_admin() -> None:
    s = active()  # our Logon was 1
    s.send("8", [(37, 1), (11, "o1"), (150, "0")])  # 2
    s.send("0", [])  # 3, a heartbeat
    s.send("8", [(37, 1), (11, "o1"), (150, "4")])  # 4
    out(s)
    s.receive(msg("2", 2, (7, 1), (16, 0)))
    got = out(s)
    assert [(m.get(35), m.get(34), m.get(123), m.get(36)) for m in got] == [
        ("4", "1", "Y", "2"), ("8", "2", None, None), ("4", "3", "Y", "4"), ("8", "4", None, None)]
    assert all(m.get(43) == "Y" for m in got)
    assert got[1].get(122) is not None and got[1].get(150) == "0"
    assert s.store.next_out == 5  # resending does not use new numbers


def test_bad_checksum_and_body_length_are_dropped_and_counted() -> None:
    s = active()
    good = order(2)
    bad_sum = good[:-4] + b"000\x01" if not good.endswith(b"=000\x01") else good[:-4] + b"001\x01"
    declared = int(good.split(b"\x01")[1][2:])
    bad_len = good.replace(b"9=%d" % declared, b"9=%d" % (declared - 3), 1)
    assert s.receive(bad_sum) == [] and s.receive(bad_len) == []
    assert s.dropped == 2 and s.state == "active" and out(s) == []
    assert [m.get(11) for m in s.receive(good)] == ["o2"]  # no number was consumed


def test_logout_is_answered_and_closes() -> None:
    s = active()
    s.receive(msg("5", 2))
    (lo,) = out(s)
    assert lo.get(35) == "5" and s.closed


def test_comp_id_mismatch_is_rejected_and_logged_out() -> None:
    s = active()
    s.receive(msg("0", 2, sender="XX"))
    kinds = [(m.get(35), m.get(373)) for m in out(s)]
    assert kinds == [("3", "9"), ("5", None)] and s.closed


# ---------------------------------------------------------------- gateway validation


def gateway_session() -> tuple[Gateway, FixSession, list]:
    sent: list = []
    gw = Gateway(["AAA"], sent.append, clock=Clock(), wall=lambda: 0.0)
    s = gw.connect()
    gw.receive(s, logon())
    out(s)
    return gw, s, sent


def test_malformed_orders_get_session_reject_with_reason_and_stay_up() -> None:
    cases = [
        (order(2, drop=55), "1", "55"),  # required tag missing
        (order(2, change={54: ""}), "4", "54"),  # tag without value
        (order(2, change={54: "7"}), "5", "54"),  # value out of range
        (order(2, change={38: "ten"}), "6", "38"),  # bad data format
        (msg("Z", 2), "11", "35"),  # unsupported MsgType
    ]
    for raw, reason, tag in cases:
        gw, s, sent = gateway_session()
        gw.receive(s, raw)
        (rej,) = out(s)
        assert (rej.get(35), rej.get(373), rej.get(371), rej.get(45)) == ("3", reason, tag, "2"), raw
        assert s.state == "active" and sent == []
        gw.receive(s, order(3))  # the session goes on; the rejected message used its number
        assert [m["k"] for m in sent] == ["new"]


def test_well_formed_orders_the_venue_refuses_are_rejected_150_8() -> None:
    gw, s, sent = gateway_session()
    gw.receive(s, order(2, change={55: "ZZZ"}))
    gw.receive(s, order(3, change={44: "100.001"}))
    gw.receive(s, order(4) + order(5, change={11: "o4"}))
    reps = out(s)
    assert [(m.get(150), m.get(39), m.get(58)) for m in reps] == [
        ("8", "8", "unknown symbol"),
        ("8", "8", "price is not a positive multiple of the tick (0.01)"),
        ("8", "8", "duplicate ClOrdID")]
    assert [m["oid"] for m in sent] == [3]  # only o4 went on to risk


def test_cancel_of_unknown_order_is_order_cancel_reject() -> None:
    gw, s, sent = gateway_session()
    gw.receive(s, msg("F", 2, (41, "nope"), (11, "c1"), (55, "AAA"), (54, "1")))
    (rej,) = out(s)
    assert (rej.get(35), rej.get(37), rej.get(41), rej.get(102), rej.get(434)) == (
        "9", "NONE", "nope", "1", "1")
    assert sent == []


def test_resend_request_with_a_bad_range_is_rejected_and_the_session_stays() -> None:
    s = active()
    s.receive(msg("2", 2, (7, "x"), (16, 0)))
    (rej,) = out(s)
    assert (rej.get(35), rej.get(373), rej.get(371)) == ("3", "5", "7") and not s.closed


def test_sending_time_is_formatted_per_millisecond_and_rolls_over_seconds() -> None:
    from labsupport.exchange.session import utc_timestamp

    base = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    assert utc_timestamp(base + 0.9995) == utc_timestamp(base + 0.9991) == "20260101-00:00:00.999"
    assert utc_timestamp(base + 1.0) == "20260101-00:00:01.000"
    assert utc_timestamp(base + 61.25) == "20260101-00:01:01.250"
    assert utc_timestamp(base + 0.9995) == "20260101-00:00:00.999"  # back again: no stale text


def test_reports_on_the_hot_path_are_the_bytes_lab13_encodes() -> None:
    """The gateway writes reports as one formatted string; Lab 13 parses each one (BodyLength
    and CheckSum checked) and re-encodes it to the very same bytes."""
    gw, s, sent = gateway_session()
    gw.receive(s, order(2, (1, "ACC1")) + order(3, change={40: "1", 59: "3"}, drop=44))
    gw.receive(s, msg("F", 4, (41, "o2"), (11, "c1"), (55, "AAA"), (54, "1")))
    assert [m["k"] for m in sent] == ["new", "new", "cxl"]
    for m in sent[:2]:  # the matcher's answers, by hand: acks, a fill at a fractional average
        gw.on_event({"k": "er", "oid": m["oid"], "x": "new"})
    gw.on_event({"k": "er", "oid": sent[0]["oid"], "x": "fill", "lq": 3, "lp": 10001, "lv": 7})
    gw.on_event({"k": "er", "oid": sent[0]["oid"], "x": "fill", "lq": 4, "lp": 10000, "lv": 3})
    gw.on_event({"k": "er", "oid": sent[0]["oid"], "x": "cxl"})
    gw.on_event({"k": "er", "oid": sent[1]["oid"], "x": "exp"})
    raw = s.take_output()
    st = FixStream()
    st.feed(raw)
    reports = list(st)
    assert st.rejects == 0 and [m.get(150) for m in reports] == ["0", "0", "F", "F", "4", "4"]
    assert b"".join(m.encode() for m in reports) == raw
    fill2 = reports[3]
    assert (fill2.get(14), fill2.get(151), fill2.get(6), fill2.get(31), fill2.get(1)) == (
        "7", "3", "100.004286", "100", "ACC1")
    assert reports[1].get(44) is None and reports[0].get(44) == "100"
    assert (reports[4].get(11), reports[4].get(41)) == ("c1", "o2")


def test_itch_packing_is_lab13_encode_tuple() -> None:
    from labsupport.exchange.marketdata import MarketData
    from labsupport.protocols.itch import encode_tuple

    wall = 1_767_225_600_123_456_789
    md = MarketData(["AAA", "BBBB"], wall_ns=lambda: wall)
    ts = wall % 86_400_000_000_000
    ops = [["A", 77 << 8, 1, 10001, 50], ["A", 78 << 8, -1, 9999, 7], ["E", 77 << 8, 20, 3],
           ["D", 78 << 8], ["U", 77 << 8, (77 << 8) + 1, 30, 10002]]
    expected = [("A", 2, 0, ts, 77 << 8, "B", 50, "BBBB", 1_000_100),
                ("A", 2, 0, ts, 78 << 8, "S", 7, "BBBB", 999_900), ("E", 2, 0, ts, 77 << 8, 20, 3),
                ("D", 2, 0, ts, 78 << 8), ("U", 2, 0, ts, 77 << 8, (77 << 8) + 1, 30, 1_000_200)]
    assert md._itch_messages("BBBB", ops) == [encode_tuple(t) for t in expected]


def test_fast_reader_gives_lab13s_fields_and_stops_at_what_it_cannot_vouch_for() -> None:
    from labsupport.exchange.fastfix import read_frames
    from labsupport.exchange.session import fields_of

    good = [logon(), order(2, (1, "ACC1")), order(3, change={54: ""}),
            msg("D", 4, (11, "x"), (11, "dup"), (10, "7"))]  # repeated tags: the first wins
    stream = FixStream()
    stream.feed(b"".join(good))
    assert read_frames(b"".join(good)) == ([fields_of(m) for m in stream], len(b"".join(good)))
    bad_sum = order(5)[:-4] + b"000\x01"
    for tail in (bad_sum, order(5)[:-3], b"garbage", order(5).replace(b"|", b"")
                 .replace(b"\x0155=", b"\x01x5=")):
        msgs, used = read_frames(good[1] + tail)
        assert (len(msgs), used) == (1, len(good[1])), tail  # the rest goes to Lab 13's stream


def test_reads_cut_mid_message_stay_on_the_fast_reader_and_lose_nothing() -> None:
    from labsupport.exchange.fastfix import incomplete

    data = b"".join(order(k) for k in range(2, 6))
    assert all(incomplete(data[:k]) for k in range(len(order(2))))
    assert not incomplete(order(2)[:30] + order(3)) and not incomplete(b"garbage")
    for cut in range(1, len(data)):  # every split point of the bytes into two reads
        s = active()
        got = s.receive(data[:cut]) + s.receive(data[cut:])
        assert [m.get(11) for m in got] == ["o2", "o3", "o4", "o5"], cut
        assert s.stream.messages == 0 and s.stream.pending == 0, cut  # Lab 13's stream unused
        assert s.dropped == 0 and s.state == "active"
