"""Real brokers the labs talk to: Debian's redis-server and rabbitmq-server, started privately.

Each helper finds the program, starts it on a free loopback port with its own data directory
under the run directory, waits until it serves, and returns a :class:`Broker` (a context
manager) whose ``stop()`` stops it through the supervisor and removes the data directory. A
program that is not installed raises :class:`BrokerUnavailable`, whose message names the
Debian package; :func:`availability` lists what this machine has, for a notebook to show
before it skips. ``*_services`` functions return the :class:`~.spec.ServiceSpec` list instead,
for a lab that supervises a broker as one part of a larger system.

RabbitMQ does not start by itself on these machines, and its defaults assume one node per host
run by a ``rabbitmq`` user under systemd. Here each node gets everything of its own, so
several can run at once (parallel test workers) and as root:

- its own Erlang port mapper: ``epmd -port P -address 127.0.0.1`` as a supervised service on
  a free port (``ERL_EPMD_PORT``), not the machine's shared daemon on 4369, which a node would
  otherwise start detached and leave running;
- a unique node name (``RABBITMQ_NODENAME=labNNN@localhost``), a free AMQP port and a free
  distribution port (``RABBITMQ_DIST_PORT``, bound to 127.0.0.1);
- ``HOME`` (the Erlang cookie), mnesia, logs, pid, config and plugin files under the run
  directory, so nothing under /etc or /var/lib/rabbitmq is read or written; the log goes to
  stdout, that is to the supervisor's log of the service;
- ``/usr/lib/rabbitmq/bin/rabbitmq-server`` run directly: the ``/usr/sbin`` wrapper switches to
  the ``rabbitmq`` user in a new session, out of reach of our process group.

It is ready when it logs ``Server startup complete`` (about 5 s on a 2-core machine).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from labsupport.measure.paths import build_dir
from labsupport.measure.procs import free_port

from .spec import HOST, LineProbe, ServiceError, ServiceSpec, TcpProbe
from .supervisor import Supervisor

_counter = itertools.count()

# program -> Debian package that installs it
PACKAGES = {"redis-server": "redis-server", "rabbitmq-server": "rabbitmq-server",
            "nginx": "nginx-light", "haproxy": "haproxy"}
_RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class BrokerUnavailable(ServiceError):
    """The program is not installed here; the message says which Debian package provides it."""


def find_program(program: str) -> str:
    """Absolute path of ``program``; :class:`BrokerUnavailable` naming its package if absent."""
    if program == "rabbitmq-server" and os.access(_RABBIT_SERVER, os.X_OK):
        return _RABBIT_SERVER
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        raise BrokerUnavailable(f"{program} is not installed: apt-get install "
                                f"{PACKAGES.get(program, program)}")
    return path


def availability() -> list[dict[str, str]]:
    """One row per program: installed where, or the command that installs it."""
    rows = []
    for program, package in PACKAGES.items():
        try:
            rows.append({"program": program, "available": "yes", "note": find_program(program)})
        except BrokerUnavailable:
            rows.append({"program": program, "available": "no",
                         "note": f"skipped: apt-get install {package}"})
    return rows


class Broker:
    """A running broker or server: its supervisor, port and private data directory."""

    def __init__(self, name: str, specs: Sequence[ServiceSpec], run_dir: Path,
                 data_dir: Path, main: str) -> None:
        self.name, self.run_dir, self.data_dir, self.main = name, run_dir, data_dir, main
        self.supervisor = Supervisor(specs, run_dir=run_dir, name=name)

    def start(self) -> Broker:
        try:
            self.supervisor.start()
        except BaseException:
            self._remove_data()
            raise
        return self

    def stop(self) -> None:
        """Stop its processes (reverse order) and remove its data directory."""
        try:
            self.supervisor.stop()
        finally:
            self._remove_data()

    def _remove_data(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def port(self) -> int:
        return self.supervisor.port(self.main)

    @property
    def host(self) -> str:
        return HOST

    @property
    def pid(self) -> int:
        return self.supervisor.pid(self.main)

    def logs(self, lines: int = 20) -> str:
        return self.supervisor.logs(self.main, lines)

    def __enter__(self) -> Broker:
        return self.start() if self.supervisor.state == "created" else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Broker {self.name}: {self.supervisor.row(self.main)['state']}>"


def _dirs(name: str, run_dir: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    run = Path(run_dir) if run_dir is not None else (
        build_dir() / "services" / f"{name}-{os.getpid()}-{next(_counter)}")
    data = run / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    return run, data


# -- Redis -----------------------------------------------------------------------------------
def redis_argv(exe: str, port: int | str, data_dir: str | os.PathLike[str], *,
               appendonly: bool = False, appendfsync: str = "everysec",
               databases: int = 1) -> list[str]:
    """redis-server's command line: loopback only, no snapshots, its files in ``data_dir``."""
    return [exe, "--port", str(port), "--bind", HOST, "--dir", str(data_dir), "--save", "",
            "--appendonly", "yes" if appendonly else "no", "--appendfsync", appendfsync,
            "--daemonize", "no", "--protected-mode", "no", "--logfile", "",
            "--databases", str(databases)]


def redis_services(data_dir: Path, *, name: str = "redis", appendonly: bool = False
                   ) -> list[ServiceSpec]:
    argv = redis_argv(find_program("redis-server"), "{port}", data_dir, appendonly=appendonly)
    return [ServiceSpec(name, tuple(argv), port="auto", ready=TcpProbe(), stop_grace_s=5)]


def redis(run_dir: str | os.PathLike[str] | None = None, *, appendonly: bool = False) -> Broker:
    """A private redis-server on a free port, started (use ``with`` or ``.stop()``)."""
    run, data = _dirs("redis", run_dir)
    return Broker("redis", redis_services(data, appendonly=appendonly), run, data,
                  "redis").start()


# -- RabbitMQ --------------------------------------------------------------------------------
def rabbitmq_services(data_dir: Path, *, name: str = "rabbitmq") -> list[ServiceSpec]:
    """``epmd`` and ``rabbitmq-server`` as two services (see the module docstring for why)."""
    server = find_program("rabbitmq-server")
    epmd = shutil.which("epmd") or find_program("epmd")
    node = f"lab{os.getpid()}x{next(_counter)}@localhost"
    for sub in ("home", "mnesia", "log"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    (data_dir / "rabbitmq.conf").write_text("loopback_users.guest = true\n")
    (data_dir / "advanced.config").write_text("[].\n")
    (data_dir / "enabled_plugins").write_text("[].\n")
    (data_dir / "rabbitmq-env.conf").write_text("")
    env = {
        "HOME": str(data_dir / "home"),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": "{port}",
        "RABBITMQ_DIST_PORT": str(free_port()),
        "ERL_EPMD_PORT": f"{{{name}-epmd.port}}",
        "ERL_EPMD_ADDRESS": HOST,
        "RABBITMQ_MNESIA_BASE": str(data_dir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(data_dir / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(data_dir / "rabbit.pid"),
        "RABBITMQ_CONFIG_FILE": str(data_dir / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(data_dir / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(data_dir / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(data_dir / "rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {{127,0,0,1}}",
    }
    return [
        ServiceSpec(f"{name}-epmd", (epmd, "-port", "{port}", "-address", HOST), port="auto"),
        # Ready when it says so: its AMQP listener opens a moment before the boot completes,
        # and a client that connects in between is turned away.
        ServiceSpec(name, (server,), env=env, port="auto",
                    ready=LineProbe(r"Server startup complete"), ready_timeout_s=60,
                    depends_on=(f"{name}-epmd",), stop_grace_s=15),
    ]


def rabbitmq(run_dir: str | os.PathLike[str] | None = None) -> Broker:
    """A private RabbitMQ node on a free port, started (about 5 s); guest/guest on loopback."""
    run, data = _dirs("rabbitmq", run_dir)
    return Broker("rabbitmq", rabbitmq_services(data), run, data, "rabbitmq").start()
