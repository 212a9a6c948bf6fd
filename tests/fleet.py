"""A copy of the example application with several environments, for runs over more than one.

``make_fleet(tmp_path, {"dev": sqlite_url, "prod": pg_url})`` writes a project
folder: the example's migrations copied (so a test may add one), an
``alembic.ini``, and a ``config.ini`` with one section per environment (server
environments get a ``scratch_url`` on their own server, so causes are told).
The example's ``models`` package is imported from the repository.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

import dbs
from drift.cli import cli
from scenarios import REPO, engine_for, render_url, use_example_models

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/alembic
path_separator = os
"""


@dataclass
class Fleet:
    root: Path
    urls: dict[str, URL]

    @property
    def config_path(self) -> Path:
        return self.root / "config.ini"

    def write_config(self, *, drift_lines: str = "", env_lines: Mapping[str, str] | None = None,
                     extra: str = "") -> None:
        lines = ["[drift]", "models = models.base:Base", "model_modules = models", "alembic_ini = alembic.ini"]
        if drift_lines:
            lines.append(drift_lines.strip())
        for name, url in self.urls.items():
            lines += ["", f"[{name}]", f"url = {render_url(url)}"]
            dialect = url.get_backend_name()
            if dialect != "sqlite":
                lines.append(f"scratch_url = {render_url(dbs.server_url('mysql' if dialect == 'mariadb' else dialect))}")
            if env_lines and name in env_lines:
                lines.append(env_lines[name].strip())
        text = "\n".join(lines) + "\n"
        if extra:
            text += "\n" + extra.strip() + "\n"
        self.config_path.write_text(text, encoding="utf-8")

    def migrate(self, env: str, target: str = "head") -> None:
        """``alembic upgrade <target>`` on one environment's database, through the copied env.py."""
        cfg = AlembicConfig()  # no file: alembic.ini's logging setup would replace the test run's
        cfg.set_main_option("script_location", str(self.root / "alembic"))
        with engine_for(self.urls[env]) as engine, engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)

    def execute(self, env: str, *statements: str) -> None:
        with engine_for(self.urls[env]) as engine, engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def invoke(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.config_path)], env=dict(env or {}),
                                  prog_name="drift")


def make_fleet(root: Path, urls: Mapping[str, URL], *, drift_lines: str = "",
               env_lines: Mapping[str, str] | None = None) -> Fleet:
    use_example_models()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "alembic", root / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "alembic.ini").write_text(ALEMBIC_INI, encoding="utf-8")
    fleet = Fleet(root, dict(urls))
    fleet.write_config(drift_lines=drift_lines, env_lines=env_lines)
    return fleet


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite+pysqlite", database=str(path))


def sqlite_dev_prod(tmp_path: Path) -> Fleet:
    """dev at head, prod one revision behind, both SQLite: a run has drift (status 1) and needs no server."""
    fleet = make_fleet(tmp_path / "project", {"dev": sqlite_url(tmp_path / "dev.db"),
                                              "prod": sqlite_url(tmp_path / "prod.db")})
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    return fleet


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def late_server(target_port: int, *, delay: float, lifetime: float = 30.0) -> Iterator[int]:
    """A TCP proxy on a fresh loopback port that refuses connections for ``delay`` seconds, then forwards.

    Refusing is real: nothing listens on the port until ``delay`` has passed.
    The proxy stops by itself after ``lifetime`` seconds and when the block ends.
    """
    port = closed_port()
    stop = threading.Event()
    ready = threading.Event()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while not stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        if stop.wait(delay):
            return
        with socket.socket() as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen()
            listener.settimeout(0.1)
            ready.set()
            ends = time.monotonic() + lifetime
            while not stop.is_set() and time.monotonic() < ends:
                try:
                    client, _ = listener.accept()
                except socket.timeout:
                    continue
                upstream = socket.create_connection(("127.0.0.1", target_port), timeout=5)
                upstream.settimeout(None)
                client.settimeout(None)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True, name="late-server")
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
