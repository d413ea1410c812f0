"""The real peers (chronyd -x, ptp4l free-running), run only where their binaries are found."""

from __future__ import annotations

import subprocess

import pytest

from labsupport.clocksync import peers


@pytest.mark.skipif(peers.binary("chronyd") is None, reason="chronyd not installed or unpacked")
def test_chronyd_without_clock_control_reports_offsets_on_loopback() -> None:
    result = peers.run_chrony(3.0)
    assert result.skipped is None, result.skipped
    assert len(result.offsets_ns) > 10
    assert max(abs(x) for x in result.offsets_ns) < 1_000_000  # one clock, read twice


@pytest.mark.skipif(peers.binary("ptp4l") is None, reason="linuxptp not installed or unpacked")
def test_ptp4l_free_running_over_a_veth_pair_reports_offsets_and_cleans_up() -> None:
    result = peers.run_ptp4l(3.0)
    if result.skipped and "root" in result.skipped:
        pytest.skip(result.skipped)
    assert result.skipped is None, result.skipped
    assert len(result.offsets_ns) > 5
    assert max(abs(x) for x in result.offsets_ns) < 1_000_000
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "cs" not in " ".join(n.split()[0] for n in namespaces.splitlines() if n)


def test_a_missing_peer_is_skipped_with_the_command_that_fetches_it(monkeypatch) -> None:
    monkeypatch.setattr(peers, "binary", lambda name: None)
    for result in (peers.run_chrony(0.1), peers.run_ptp4l(0.1)):
        assert result.skipped and "apt-get download" in result.skipped
        assert "skipped" in result.line()
