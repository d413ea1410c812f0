"""The real peers, run side by side without touching the machine's clock: chronyd and ptp4l.

- chrony: two ``chronyd -x`` (``-x``: never control the system clock) on 127.0.0.1, one serving
  its own clock (``local stratum 1``), one polling it 16 times a second; the client's
  ``measurements.log`` has one offset per poll. Both read one clock, so each offset is pure
  measurement error, what PTP-lite's real-mode true offset is too.
- linuxptp: ``ptp4l`` master and slave, software timestamps (``-S``), layer 2 (``-2``, so no IP
  address is involved), in the two network namespaces of a :class:`labsupport.measure.netns.VethPair`; the slave runs ``free_running 1`` (its servo never adjusts a clock) and its
  ``offsetFromMaster`` is read with ``pmc`` (``GET CURRENT_DATA_SET``) over its own UNIX socket.

Binaries come from ``PATH`` or from Debian's packages unpacked under
``build/peers/clocksync/root`` (``apt-get download chrony linuxptp`` then ``dpkg -x``, which
installs nothing and so does not replace the machine's time service; :data:`FETCH` is the
command). Whatever is missing or not permitted (namespaces need root) is skipped with a reason.
Every process started is killed and every namespace deleted at the end, also on error.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..measure import build_dir, free_port, netns

__all__ = ["PeerResult", "binary", "run_chrony", "run_ptp4l", "FETCH"]

ROOT = build_dir() / "peers" / "clocksync" / "root"
FETCH = ("cd build/peers/clocksync && apt-get download chrony linuxptp && "
         "for d in *.deb; do dpkg -x $d root; done")


@dataclass
class PeerResult:
    """Offsets a peer reported (ns), or why it did not run."""

    name: str
    offsets_ns: list[float] = field(default_factory=list)
    skipped: str | None = None

    def line(self) -> str:
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        o = self.offsets_ns
        return (f"{self.name}: {len(o)} offsets, mean {statistics.mean(o):.0f} ns, "
                f"sd {statistics.pstdev(o):.0f} ns, max |offset| {max(map(abs, o)):.0f} ns")


def binary(name: str) -> str | None:
    """Path of ``name`` on PATH or among the unpacked Debian packages."""
    found = shutil.which(name)
    if found:
        return found
    for sub in ("usr/sbin", "usr/bin"):
        path = ROOT / sub / name
        if path.exists():
            return str(path)
    return None


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def run_chrony(duration_s: float = 5.0) -> PeerResult:
    chronyd = binary("chronyd")
    if chronyd is None:
        return PeerResult("chronyd -x", skipped=f"chronyd not found; {FETCH}")
    work = Path(tempfile.mkdtemp(prefix="clocksync-chrony-"))
    port = free_port()
    (work / "server.conf").write_text(
        f"port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 1\ncmdport 0\n"
        f"pidfile {work}/server.pid\n")
    (work / "client.conf").write_text(
        f"server 127.0.0.1 port {port} minpoll -4 maxpoll -4 iburst\nport 0\ncmdport 0\n"
        f"pidfile {work}/client.pid\nlogdir {work}\nlog measurements\n")
    user = ["-u", "root"] if os.geteuid() == 0 else []
    procs: list[subprocess.Popen] = []
    try:
        for conf in ("server", "client"):
            procs.append(subprocess.Popen([chronyd, "-x", "-d", *user, "-f", str(work / f"{conf}.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.3)
        time.sleep(duration_s)
    finally:
        _stop(procs)
    log = work / "measurements.log"
    offsets = []
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) > 11 and parts[2] == "127.0.0.1":
                offsets.append(float(parts[11]) * 1e9)
    shutil.rmtree(work, ignore_errors=True)
    if len(offsets) < 2:
        return PeerResult("chronyd -x", skipped="chronyd reported no measurements")
    return PeerResult("chronyd -x", offsets[len(offsets) // 4:])  # after its start-up


def run_ptp4l(duration_s: float = 5.0) -> PeerResult:
    ptp4l, pmc = binary("ptp4l"), binary("pmc")
    if ptp4l is None or pmc is None:
        return PeerResult("ptp4l -S", skipped=f"linuxptp not found; {FETCH}")
    reason = netns.unavailable()
    if reason:
        return PeerResult("ptp4l -S", skipped=reason)
    work = Path(tempfile.mkdtemp(prefix="clocksync-ptp4l-"))
    base = ("[global]\nfree_running 1\nlogSyncInterval -4\nlogMinDelayReqInterval -4\n"
            "logAnnounceInterval -2\nannounceReceiptTimeout 2\n")
    for role in ("m", "s"):
        (work / f"{role}.conf").write_text(base + f"uds_address {work}/uds-{role}\n")
    procs: list[subprocess.Popen] = []
    offsets: list[float] = []
    pair = netns.VethPair("cs")
    try:
        try:
            pair.open()
        except netns.NetnsError as exc:
            return PeerResult("ptp4l -S", skipped=str(exc))
        for side, role, extra in ((pair.a, "m", ["--masterOnly", "1"]), (pair.b, "s", ["-s"])):
            procs.append(subprocess.Popen(
                pair.argv(side, [ptp4l, "-i", side.ifname, "-S", "-2", "-f",
                                 str(work / f"{role}.conf"), *extra]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2.5)  # announce timeout, best master, first exchanges
        end = time.monotonic() + duration_s
        while time.monotonic() < end:
            out = subprocess.run([pmc, "-u", "-b", "0", "-s", str(work / "uds-s"),
                                  "GET CURRENT_DATA_SET"], capture_output=True, text=True,
                                 timeout=10).stdout
            for line in out.splitlines():
                if "offsetFromMaster" in line:
                    offsets.append(float(line.split()[-1]))
            time.sleep(0.1)
    finally:
        _stop(procs)
        pair.close()
        shutil.rmtree(work, ignore_errors=True)
    if len(offsets) < 2:
        return PeerResult("ptp4l -S", skipped="ptp4l reported no offsets")
    return PeerResult("ptp4l -S", offsets)
