"""Lab 14 for real: the workflow as supervised processes through the fault proxy, with kill -9 of
the OMS mid-flow and a proxy-injected delay, checked by the same checker as the simulation."""

from __future__ import annotations

import pytest

from labsupport.resilience import History, check
from labsupport.resilience.errors import ResilienceConfigError
from labsupport.resilience.live import run_live
from labsupport.resilience.messages import StatusReply
from labsupport.resilience.session import Frame
from labsupport.resilience.wire import decode, encode


def test_wire_round_trip_keeps_types_and_nesting():
    msg = Frame(2, 3, 7, StatusReply("1.4", "filled", ((5, 2, 10001),)))
    assert decode(encode(msg)) == msg


def test_live_rejects_an_unknown_fault(tmp_path):
    with pytest.raises(ResilienceConfigError, match="unknown live fault 'meteor'"):
        run_live("meteor", 1.0, tmp_path)


@pytest.mark.timeout(150)
def test_live_kill9_of_the_oms_and_a_proxy_delay_lose_nothing(tmp_path, capsys):
    status = run_live("kill-oms,delay,kill-switch", 2.5, tmp_path / "live")
    out = capsys.readouterr().out
    history = History.merge(sorted((tmp_path / "live" / "history").glob("*.jsonl")))
    history.meta["limits"] = (5, 40)
    assert status == 0, out
    assert check(history) == []
    # the faults really happened, and the workflow really traded through them
    nemesis = [e.fields[0] for e in history.of("nemesis")]
    assert "kill -9 oms" in nemesis and "proxy delay 20 ms" in nemesis
    assert history.of("oms", "restart") and history.of("oms", "reconciled")
    assert len(history.finals["exchange"]["orders"]) > 20
    assert history.of("kill", "trigger") and history.of("exchange", "kill")
    assert "0 violations" in (tmp_path / "live" / "summary.txt").read_text()
