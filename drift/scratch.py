"""Scratch databases: what the project's own migrations build, in a database drift made and drops.

To tell *why* the live database differs from the models, drift needs the
schema that the database's recorded revision implies and the schema at head.
Both come from running the project's migrations into a throwaway database of
the same dialect:

* SQLite: a new file in a new temporary folder, removed afterwards.
* PostgreSQL, MariaDB/MySQL: ``CREATE DATABASE drift_scratch_<random>`` on the
  server that ``scratch_url`` names (a server and its maintenance database,
  with credentials of its own), always dropped afterwards: on success, on
  error, on Ctrl-C, and on SIGTERM, which is turned into ``KeyboardInterrupt``
  while a scratch database exists.

Safety rules: a ``scratch_url`` that names the checked database itself is
refused; the scratch database's name is always freshly generated, so drift
never drops a database it did not create; and migrations run without the
project's ``env.py`` unless ``[drift] scratch_use_env_py = true`` (env.py
usually reads config.ini and could reach a real environment). When env.py is
used, every new database connection other than the scratch one is blocked
while it runs.

>>> target = scratch_target(environment)              # doctest: +SKIP
>>> with scratch_database(target) as scratch:         # doctest: +SKIP
...     with scratch.engine.connect() as conn:
...         upgrade(conn, project, "0002_task_due_date")
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets as _random
import shutil
import signal
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from . import secrets
from .config import Environment, mask_url
from .errors import ConfigError, DriftError
from .history import read_current
from .loading import AlembicProject

log = logging.getLogger(__name__)

#: Every scratch database (or SQLite folder) drift makes starts with this.
NAME_PREFIX = "drift_scratch_"

#: The dialect families a scratch database can be made for; MariaDB and MySQL share one.
FAMILIES = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "[::1]"}

#: Seconds a drop may wait for a lock before giving up (MariaDB's default is a year).
DROP_LOCK_TIMEOUT = 30

# Alembic installs ``alembic.op`` and ``alembic.context`` as module-wide proxies while a
# migration runs, so two threads migrating at once (a run checking several environments)
# would send each other's operations to the wrong database. One migration at a time.
_MIGRATING = threading.Lock()


class ScratchError(DriftError):
    """A scratch database could not be made, migrated or dropped."""


class ScratchRefusedError(ScratchError, ConfigError):
    """``scratch_url`` is unsafe: it names the very database being checked."""


class ScratchUnavailableError(ScratchError):
    """No scratch database can be made for this environment (no or mismatched ``scratch_url``, server down)."""


class MigrationFailedError(ScratchError):
    """A migration raised while building a scratch database; ``revision`` names it when known."""

    def __init__(self, message: str, *, revision: str | None = None) -> None:
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class ScratchTarget:
    """Where scratch databases for one environment are made: a server, or a temporary folder for SQLite."""

    family: str
    server_url: URL | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    statement_timeout: float = 30.0

    @property
    def masked_server(self) -> str:
        return mask_url(self.server_url) if self.server_url is not None else "a temporary SQLite file"


@dataclass(frozen=True)
class ScratchDatabase:
    """A scratch database that exists until its ``scratch_database`` block ends."""

    family: str
    name: str
    url: URL = field(repr=False)
    engine: Engine = field(repr=False, compare=False)


def family_of(url: URL) -> str | None:
    return FAMILIES.get(url.get_backend_name())


def new_scratch_name() -> str:
    """``drift_scratch_<12 hex>``: fresh every time, so drift only ever drops what it created."""
    return f"{NAME_PREFIX}{_random.token_hex(6)}"


def same_database(a: URL, b: URL) -> bool:
    """Whether two URLs name the same database: same SQLite file, or same host, port and database.

    >>> from sqlalchemy.engine import make_url
    >>> same_database(make_url("postgresql://u@localhost/app"), make_url("postgresql://v:x@127.0.0.1:5432/app"))
    True
    >>> same_database(make_url("postgresql://u@db1/app"), make_url("postgresql://u@db1/postgres"))
    False
    """
    family = family_of(a)
    if family is None or family != family_of(b):
        return False
    if family == "sqlite":
        return _sqlite_path(a) is not None and _sqlite_path(a) == _sqlite_path(b)
    return (
        _host(a.host) == _host(b.host)
        and (a.port or DEFAULT_PORTS[family]) == (b.port or DEFAULT_PORTS[family])
        and (a.database or "") == (b.database or "")
    )


def scratch_target(environment: Environment) -> ScratchTarget:
    """Where to build scratch schemas for ``environment``; checks ``scratch_url`` is safe and fits.

    Raises :class:`ScratchRefusedError` when ``scratch_url`` names the checked
    database, :class:`ScratchUnavailableError` when a server dialect has no
    usable ``scratch_url``.
    """
    family = family_of(environment.url)
    scratch = environment.scratch_url
    if scratch is not None and same_database(scratch, environment.url):
        raise ScratchRefusedError(
            f"[{environment.name}] scratch_url {mask_url(scratch)} names the database being checked; "
            "point it at a server's maintenance database (e.g. .../postgres) or remove it: "
            "drift creates and drops its own scratch database there",
            environment=environment.name,
        )
    timeouts = {"connect_timeout": environment.connect_timeout, "statement_timeout": environment.statement_timeout}
    if family == "sqlite":
        # A temporary file always: a SQLite scratch_url (e.g. a global one for another dialect) is not needed.
        return ScratchTarget("sqlite", None, **timeouts)
    if family is None:
        raise ScratchUnavailableError(f"no scratch database can be built for dialect {environment.dialect!r}")
    if scratch is None:
        raise ScratchUnavailableError(
            f"[{environment.name}] has no scratch_url, so drift cannot build the schema its migrations imply; "
            f"set scratch_url to a {family} server's maintenance database (in [{environment.name}] or [drift])"
        )
    if family_of(scratch) != family:
        raise ScratchUnavailableError(
            f"scratch_url {mask_url(scratch)} is a {scratch.get_backend_name()} server, "
            f"but [{environment.name}] is {environment.dialect}; set a {family} scratch_url in [{environment.name}]"
        )
    return ScratchTarget(family, scratch, **timeouts)


# --------------------------------------------------------------------------- the database's lifetime


@contextlib.contextmanager
def scratch_database(target: ScratchTarget) -> Iterator[ScratchDatabase]:
    """Create a fresh scratch database, yield it, and always remove it.

    SIGTERM raises ``KeyboardInterrupt`` for as long as the database exists,
    and Ctrl-C or SIGTERM arriving during the drop is held back until the
    drop is done, so neither can leave a scratch database behind.
    """
    name = new_scratch_name()
    with _terminate_raises():
        if target.family == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix=f"{name}_"))
            url = URL.create("sqlite+pysqlite", database=str(folder / "schema.db"))
            engine = create_engine(url, poolclass=NullPool)
            log.info("scratch database: %s", url.database)
            try:
                yield ScratchDatabase("sqlite", name, url, engine)
            finally:
                with _signals_held():
                    engine.dispose()
                    shutil.rmtree(folder, ignore_errors=True)
            return

        assert target.server_url is not None
        url = target.server_url.set(database=name)
        engine = None
        attempted: list[bool] = []
        try:
            _create(target, name, attempted)
            log.info("scratch database: %s", mask_url(url))
            engine = create_engine(url, poolclass=NullPool, connect_args=_connect_args(target))
            yield ScratchDatabase(target.family, name, url, engine)
        finally:
            with _signals_held():
                if engine is not None:
                    engine.dispose()
                if attempted:  # not when the server could not even be reached
                    _drop(target, name)


def _connect_args(target: ScratchTarget) -> dict[str, Any]:
    seconds = max(2, int(round(target.connect_timeout)))
    if target.family == "postgresql":
        return {"connect_timeout": seconds, "application_name": "drift-scratch"}
    return {"connect_timeout": seconds}


def _admin_engine(target: ScratchTarget) -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL.
    assert target.server_url is not None
    try:
        return create_engine(
            target.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=_connect_args(target)
        )
    except (ImportError, SQLAlchemyError) as exc:
        raise ScratchUnavailableError(
            f"cannot load the driver for scratch_url {target.masked_server}: {secrets.mask(_first_line(exc))}"
        ) from None


def _quoted(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _create(target: ScratchTarget, name: str, attempted: list[bool]) -> None:
    engine = _admin_engine(target)
    try:
        with engine.connect() as conn:
            attempted.append(True)
            if target.family == "postgresql":
                conn.execute(text(f"CREATE DATABASE {_quoted(engine, name)}"))
            else:
                conn.execute(text(f"CREATE DATABASE {_quoted(engine, name)} CHARACTER SET utf8mb4"))
    except DBAPIError as exc:
        raise ScratchUnavailableError(
            f"cannot create a scratch database on {target.masked_server}: {secrets.mask(_first_line(exc.orig))}"
        ) from None
    finally:
        engine.dispose()


def _drop(target: ScratchTarget, name: str) -> None:
    """Drop scratch database ``name`` if it exists; never raises, logs what it could not do."""
    if not name.startswith(NAME_PREFIX):  # the last line of defence: never drop what drift did not name
        raise AssertionError(f"refusing to drop {name!r}, which is not a scratch database")
    try:
        engine = _admin_engine(target)
    except ScratchError as exc:
        log.error("could not drop scratch database %s: %s", name, exc)
        return
    try:
        with engine.connect() as conn:
            quoted = _quoted(engine, name)
            if target.family == "postgresql":
                # FORCE ends sessions still connected, so a leaked connection cannot block the drop.
                conn.execute(text(f"SET statement_timeout = {DROP_LOCK_TIMEOUT * 1000}"))
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            else:
                # MariaDB has no FORCE: end the sessions using it first, so no metadata lock blocks the drop.
                conn.execute(text(f"SET SESSION lock_wait_timeout = {DROP_LOCK_TIMEOUT}"))
                ids = conn.execute(
                    text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :name AND ID <> CONNECTION_ID()"),
                    {"name": name},
                ).scalars().all()
                for session_id in ids:
                    with contextlib.suppress(DBAPIError):
                        conn.execute(text(f"KILL CONNECTION {int(session_id)}"))
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        log.info("dropped scratch database %s", name)
    except Exception as exc:  # a failed drop must not hide the outcome of the check; it is logged loudly
        reason = _first_line(getattr(exc, "orig", None) or exc)
        log.error(
            "could not drop scratch database %s on %s: %s; drop it by hand",
            name, target.masked_server, secrets.mask(reason),
        )
    finally:
        engine.dispose()


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt inside the block (main thread only), so cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while cleaning up; raise KeyboardInterrupt afterwards if one came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if received:
            raise KeyboardInterrupt(f"interrupted by signal {received[0]} while removing the scratch database")


# --------------------------------------------------------------------------- migrating


def upgrade(
    connection: Connection,
    project: AlembicProject,
    target: str,
    *,
    metadata: Any = None,
    use_env_py: bool = False,
) -> None:
    """Upgrade the scratch database behind ``connection`` to revision ``target``.

    Without env.py (the default) this is what ``alembic upgrade`` does, minus
    env.py: an :class:`~alembic.runtime.environment.EnvironmentContext` on the
    project's script directory, configured with ``connection``. With
    ``use_env_py`` it is ``alembic.command.upgrade`` with the connection in
    ``config.attributes["connection"]``, which env.py must use.

    A migration that raises becomes :class:`MigrationFailedError` naming the
    revision; ``KeyboardInterrupt`` passes through.
    """
    _end_transaction(connection)
    try:
        with _MIGRATING:
            if use_env_py:
                _upgrade_with_env_py(connection, project, target)
            else:
                _upgrade_direct(connection, project, target, metadata)
        _end_transaction(connection, commit=True)
    except ScratchError:
        _end_transaction(connection)
        raise
    except Exception as exc:
        _end_transaction(connection)
        revision = _failing_revision(exc, project)
        where = f"revision {revision}" if revision else f"upgrading to {target}"
        reason = _first_line(getattr(exc, "orig", None) or exc)
        raise MigrationFailedError(
            f"{where} failed in the scratch {connection.dialect.name} database: "
            f"{type(getattr(exc, 'orig', None) or exc).__name__}: {secrets.mask(reason)}",
            revision=revision,
        ) from None
    if use_env_py:
        recorded = read_current(connection, project.version_table, project.version_table_schema) or ()
        _end_transaction(connection)
        if target not in recorded:
            raise ScratchError(
                f"env.py did not migrate the scratch database to {target} (it records {', '.join(recorded) or 'nothing'}); "
                "env.py must run the migrations on config.attributes['connection'] when it is set"
            )


def _upgrade_direct(connection: Connection, project: AlembicProject, target: str, metadata: Any) -> None:
    script = project.script

    def steps(rev: Any, context: Any) -> Any:
        return script._upgrade_revs(target, rev)

    with _only_this_connection(connection), EnvironmentContext(
        project.alembic_config, script, fn=steps, destination_rev=target
    ) as env:
        env.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=project.version_table,
            version_table_schema=project.version_table_schema,
        )
        with env.begin_transaction():
            env.run_migrations()


def _upgrade_with_env_py(connection: Connection, project: AlembicProject, target: str) -> None:
    cfg = AlembicConfig(str(project.ini))
    cfg.attributes["connection"] = connection
    with _only_this_connection(connection), _logging_kept():
        command.upgrade(cfg, target)


@contextlib.contextmanager
def _only_this_connection(connection: Connection) -> Iterator[None]:
    """Block every new database connection but the scratch one while migrations run in this thread.

    env.py usually knows how to reach real environments; if it ignores the
    connection it was given (or a migration opens one of its own), the
    connect attempt fails before any driver is called, so not even an empty
    SQLite file is created. Other threads of the process are left alone.
    """
    allowed = connection.engine.dialect
    thread = threading.get_ident()

    def guard(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        if dialect is not allowed and threading.get_ident() == thread:
            raise ScratchError(
                "env.py or a migration opened a database connection of its own while drift was migrating "
                "a scratch database; make env.py use config.attributes['connection'] when it is set "
                "(or set [drift] scratch_use_env_py = false), and keep migrations on op.get_bind()"
            )

    event.listen(Engine, "do_connect", guard)
    try:
        yield
    finally:
        event.remove(Engine, "do_connect", guard)


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """env.py usually calls logging.config.fileConfig; keep drift's own logging as it was."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers), list(root.filters))
    saved = {
        name: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        root.filters[:] = saved_root[2]
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            if name in saved:
                level, handlers, propagate, disabled = saved[name]
                logger.setLevel(level)
                logger.handlers[:] = handlers
                logger.propagate, logger.disabled = propagate, disabled
            else:
                logger.setLevel(logging.NOTSET)
                logger.handlers.clear()
                logger.propagate, logger.disabled = True, False


def _end_transaction(connection: Connection, *, commit: bool = False) -> None:
    if not connection.in_transaction():
        return
    if commit:
        connection.commit()
    else:
        with contextlib.suppress(Exception):
            connection.rollback()


def _failing_revision(exc: BaseException, project: AlembicProject) -> str | None:
    """The revision whose script is on the traceback (the innermost one), if any."""
    by_path: dict[str, str] = {}
    for script in project.script.walk_revisions():
        if script.path:
            by_path[os.path.realpath(script.path)] = script.revision
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        rev = by_path.get(os.path.realpath(frame.f_code.co_filename))
        if rev is not None:
            found = rev
    return found


def _host(host: str | None) -> str:
    value = (host or "").lower()
    return "localhost" if value in _LOCAL_HOSTS else value


def _sqlite_path(url: URL) -> str | None:
    database = url.database or ""
    if not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    return os.path.realpath(database)


def _first_line(exc: object) -> str:
    for line in str(exc).strip().splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
