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

Histories that do not start from an empty database (Alembic adopted after the
tables existed) need a *baseline*: a declarative Base or MetaData
(``scratch_baseline = package.module:Base``) or a schema dump
(``scratch_baseline_sql = baseline.sql``) built into the empty scratch
database first, then stamped at ``scratch_baseline_revision`` (default: the
history's base) so that the migrations after it run on top.

>>> target = scratch_target(environment)              # doctest: +SKIP
>>> with scratch_database(target) as scratch:         # doctest: +SKIP
...     with scratch.engine.connect() as conn:
...         upgrade(conn, project, "0002_task_due_date")
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets as _random
import shutil
import signal
import sqlite3
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from . import secrets
from .config import Environment, mask_url
from .errors import ConfigError, DriftError, ModelsError, first_line
from .history import read_current
from .loading import AlembicProject, _import, _project_on_path
from .signals import terminate_raises

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

    @property
    def identity(self) -> str:
        """Which server, without its password, whatever secrets are registered: for keys, which are hashed.

        Not :attr:`masked_server`: masking depends on the passwords the process has seen so far, so the same
        server could be told apart from itself (and two servers taken for one).
        """
        if self.server_url is None:
            return self.family
        url = self.server_url
        bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
        return bare.render_as_string(hide_password=False)


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
    with terminate_raises():
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
            f"cannot load the driver for scratch_url {target.masked_server}: {secrets.mask(first_line(exc))}"
        ) from None


def _quoted(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def server_version(target: ScratchTarget) -> str:
    """What builds ``target``'s scratch databases: the server's product and version, or SQLite's library."""
    if target.family == "sqlite":
        return f"sqlite {sqlite3.sqlite_version}"
    engine = _admin_engine(target)
    try:
        with engine.connect() as conn:
            dialect = conn.dialect
            product = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
            return f"{product} {'.'.join(str(part) for part in dialect.server_version_info or ())}"
    except DBAPIError as exc:
        raise ScratchUnavailableError(
            f"cannot connect to the scratch server {target.masked_server}: {secrets.mask(first_line(exc.orig))}"
        ) from None
    finally:
        engine.dispose()


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
            f"cannot create a scratch database on {target.masked_server}: {secrets.mask(first_line(exc.orig))}"
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
        reason = first_line(getattr(exc, "orig", None) or exc)
        log.error(
            "could not drop scratch database %s on %s: %s; drop it by hand",
            name, target.masked_server, secrets.mask(reason),
        )
    finally:
        engine.dispose()


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
        reason = first_line(getattr(exc, "orig", None) or exc)
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


# --------------------------------------------------------------------------- baselines

#: ``baseline.<name>.sql`` beside a configured ``baseline.sql`` wins for these dialect families.
DUMP_DIALECTS = {"sqlite": ("sqlite",), "postgresql": ("postgresql",), "mysql": ("mysql", "mariadb")}


class BaselineConfigError(ScratchError, ConfigError):
    """A ``scratch_baseline*`` setting is malformed or names nothing usable, or a dump would leave the scratch db."""


class BaselineError(ScratchError):
    """The baseline could not be built into a scratch database."""


class Statement(NamedTuple):
    """One statement of a SQL script: the line it starts on, its text and where it stands in the script."""

    line: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class SqlScript:
    """A schema dump read for one dialect family, split into statements, checked to stay in the scratch database."""

    name: str  # as config.ini names it (relative), for messages
    family: str
    text: str = field(repr=False)
    statements: tuple[Statement, ...] = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Baseline:
    """The schema a project's migrations start from, built into every scratch database before they run.

    One of ``metadata`` (``scratch_baseline = package.module:Base``) and
    ``sql`` (``scratch_baseline_sql``, anchored at config.ini's folder) is
    set. ``revision`` is what the scratch database is stamped at afterwards,
    so the migrations after it run; ``None`` means the history's base, so all
    of them run on top of the baseline.

    >>> baseline = resolve_baseline(environment, config.settings, config.root)   # doctest: +SKIP
    >>> baseline.described                                                      # doctest: +SKIP
    'scratch_baseline = app.initial_models:Base in [drift]'
    """

    section: str
    setting: str  # "scratch_baseline" or "scratch_baseline_sql"
    value: str  # as written in config.ini
    metadata: MetaData | None = field(default=None, repr=False, compare=False)
    sql: Path | None = field(default=None, repr=False)
    revision: str | None = None

    @property
    def described(self) -> str:
        at = f", scratch_baseline_revision = {self.revision}" if self.revision else ""
        return f"{self.setting} = {self.value}{at} in [{self.section}]"

    def sql_file(self, family: str) -> tuple[Path, str]:
        """The dump for ``family`` and its name as config.ini would write it: ``baseline.<dialect>.sql`` first."""
        assert self.sql is not None
        written = Path(self.value)
        names = [f"{written.stem}.{dialect}{written.suffix}" for dialect in DUMP_DIALECTS.get(family, (family,))]
        for name in names:
            if self.sql.with_name(name).is_file():
                return self.sql.with_name(name), written.with_name(name).as_posix()
        if self.sql.is_file():
            return self.sql, written.as_posix()
        looked = ", ".join([written.as_posix(), *(written.with_name(n).as_posix() for n in names)])
        raise BaselineConfigError(
            f"[{self.section}] scratch_baseline_sql = {self.value}: no such file for {family} "
            f"(looked for {looked}, relative to config.ini's folder)"
        )

    def script(self, family: str) -> SqlScript | None:
        """The dump for ``family``, read and split; ``None`` for a Base or MetaData baseline.

        Raises :class:`BaselineConfigError` for a missing or unreadable file and
        for a statement that would leave the scratch database.
        """
        if self.sql is None:
            return None
        path, name = self.sql_file(family)
        try:
            # utf-8-sig: dumps written on Windows start with a byte-order mark.
            text_ = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineConfigError(
                f"[{self.section}] scratch_baseline_sql: cannot read {name}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        statements = tuple(split_sql(text_, family))
        for statement in statements:
            problem = _leaves_scratch(statement, family)
            if problem:
                raise BaselineConfigError(
                    f"[{self.section}] scratch_baseline_sql: {name} line {statement.line}: {problem}"
                )
        return SqlScript(name, family, text_, statements)

    def key(self, script: SqlScript | None) -> str:
        """What identifies the schemas built on this baseline: the setting, or the dump's content, and the revision."""
        at = self.revision or "base"
        if script is None:
            return f"{self.value}@{at}"
        return f"{script.name}#{script.digest}@{at}"


def resolve_baseline(environment: Environment, defaults: Mapping[str, str], root: Path) -> Baseline | None:
    """The baseline for ``environment``, or ``None``; imports a Base and checks a dump now, before anything connects.

    The keys are read as one group: from the environment's section when it
    sets ``scratch_baseline`` or ``scratch_baseline_sql`` (an empty value
    turns a ``[drift]`` baseline off for that environment), otherwise from
    ``defaults`` (the ``[drift]`` section). Raises :class:`BaselineConfigError`.
    """
    own = environment.settings
    if "scratch_baseline" in own or "scratch_baseline_sql" in own:
        section, values = environment.name, own
    else:
        if (own.get("scratch_baseline_revision") or "").strip():
            raise BaselineConfigError(
                f"[{environment.name}] sets scratch_baseline_revision but no baseline; "
                f"set scratch_baseline or scratch_baseline_sql in [{environment.name}] too"
            )
        section, values = "drift", defaults
    module = (values.get("scratch_baseline") or "").strip()
    sql = (values.get("scratch_baseline_sql") or "").strip()
    revision = (values.get("scratch_baseline_revision") or "").strip() or None
    if module and sql:
        raise BaselineConfigError(
            f"[{section}] sets both scratch_baseline and scratch_baseline_sql; keep the one the migrations start from"
        )
    if not module and not sql:
        if revision:
            raise BaselineConfigError(
                f"[{section}] scratch_baseline_revision = {revision} has no baseline; "
                "set scratch_baseline or scratch_baseline_sql beside it"
            )
        return None
    if module:
        return Baseline(section, "scratch_baseline", module, metadata=_baseline_metadata(module, section, root),
                        revision=revision)
    path = Path(sql)
    baseline = Baseline(section, "scratch_baseline_sql", sql, sql=path if path.is_absolute() else root / path,
                        revision=revision)
    family = family_of(environment.url)
    if family is not None:
        baseline.script(family)  # a missing file or an unsafe statement is reported before anything connects
    return baseline


_MODELS_HINT = "; run drift from the project folder or fix [drift] models / model_modules"


def _baseline_metadata(spec: str, section: str, root: Path) -> MetaData:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise BaselineConfigError(
            f"[{section}] scratch_baseline = {spec!r} is not of the form module:attribute "
            "(for example app.initial_models:Base)"
        )
    _project_on_path(root)
    try:
        target: Any = _import(module_name)
    except ModelsError as exc:  # its wording is about [drift] models; say which setting it is
        reason = exc.message.removesuffix(_MODELS_HINT).replace("models module", "module", 1)
        raise BaselineConfigError(f"[{section}] scratch_baseline: {reason}; fix scratch_baseline") from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise BaselineConfigError(
                f"[{section}] scratch_baseline = {spec}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    metadata = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise BaselineConfigError(
            f"[{section}] scratch_baseline = {spec} is a {type(target).__name__}, not a declarative Base or MetaData"
        )
    if not metadata.tables:
        raise BaselineConfigError(
            f"[{section}] scratch_baseline = {spec} defines no tables; point it at the models the migrations start from"
        )
    return metadata


def apply_baseline(
    scratch: ScratchDatabase, project: AlembicProject, baseline: Baseline, script: SqlScript | None = None
) -> None:
    """Build ``baseline`` into the empty scratch database, then stamp it at ``baseline.revision`` (or leave it at base).

    ``script`` is ``baseline.script(scratch.family)``, read beforehand so an
    unsafe dump is refused before the scratch database is made. Raises
    :class:`BaselineError`; ``KeyboardInterrupt`` passes through.
    """
    family = scratch.family
    try:
        if script is not None:
            _run_script(scratch.engine, script)
        else:
            assert baseline.metadata is not None
            with scratch.engine.begin() as conn:
                baseline.metadata.create_all(conn)
    except _ScriptFailed as failed:
        raise BaselineError(
            f"the baseline ({baseline.described}) failed in the scratch {family} database"
            f"{failed.where}: {type(failed.error).__name__}: {secrets.mask(first_line(failed.error))}"
        ) from None
    except Exception as exc:
        error = getattr(exc, "orig", None) or exc
        raise BaselineError(
            f"the baseline ({baseline.described}) failed in the scratch {family} database: "
            f"{type(error).__name__}: {secrets.mask(first_line(error))}"
        ) from None
    try:
        # A connection of its own: a dump's session settings (pg_dump empties search_path) must not reach alembic.
        with scratch.engine.begin() as conn:
            context = MigrationContext.configure(conn, opts={
                "version_table": project.version_table, "version_table_schema": project.version_table_schema,
            })
            # What a dump's version table says is replaced: the baseline stands for its configured revision.
            context._ensure_version_table(purge=True)
            if baseline.revision:
                context.stamp(project.script, baseline.revision)
    except Exception as exc:
        error = getattr(exc, "orig", None) or exc
        raise BaselineError(
            f"stamping the scratch {family} database at {baseline.revision or 'base'} after the baseline "
            f"({baseline.described}) failed: {type(error).__name__}: {secrets.mask(first_line(error))}"
        ) from None
    log.info("scratch baseline built from %s", baseline.described)


class _ScriptFailed(Exception):
    def __init__(self, error: BaseException, where: str = "") -> None:
        super().__init__(str(error))
        self.error, self.where = error, where


def _run_script(engine: Engine, script: SqlScript) -> None:
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        if script.family == "sqlite":
            # sqlite3 parses the script itself (BEGIN … END of triggers included) and commits it.
            try:
                raw.executescript(script.text)
            except Exception as exc:
                raise _ScriptFailed(exc, f" at {script.name}") from None  # sqlite3 does not say where
            return
        if script.family == "postgresql":
            # The server parses the dump (dollar quotes, E'' strings, nested comments): psycopg sends a
            # string without parameters as one simple query. Only psql's own \ commands are taken out;
            # their line breaks stay, so a position the server reports is on the same line.
            sql = _without_meta_commands(script)
            try:
                with raw.cursor() as cursor:
                    cursor.execute(sql)
            except Exception as exc:
                raise _ScriptFailed(exc, _pg_where(exc, sql, script.name)) from None
            raw.commit()
            return
        # MariaDB: one statement at a time, as the mysql client sends them (DELIMITER understood),
        # so a failure names its line and nothing depends on multi-statement mode.
        with raw.cursor() as cursor:
            for statement in script.statements:
                try:
                    cursor.execute(statement.text)
                except Exception as exc:
                    raise _ScriptFailed(exc, f" at {script.name} line {statement.line}") from None
        raw.commit()


def _without_meta_commands(script: SqlScript) -> str:
    parts, at = [], 0
    for statement in script.statements:
        if statement.text.startswith("\\"):
            parts.append(script.text[at:statement.start])
            at = statement.end
    parts.append(script.text[at:])
    return "".join(parts)


def _pg_where(exc: BaseException, sql: str, name: str) -> str:
    position = getattr(getattr(exc, "diag", None), "statement_position", None)
    try:
        offset = int(position) - 1 if position else -1
    except ValueError:
        offset = -1
    if 0 <= offset <= len(sql):
        return f" at {name} line {sql.count(chr(10), 0, offset) + 1}"
    return f" at {name}"


# Statements a dump may hold that would reach beyond the scratch database: (family, first words) → why not.
_UNSAFE = {
    ("mysql", "USE"): "would leave the scratch database; dump one database (without --databases)",
    ("mysql", "CREATE DATABASE"): "would create another database; dump one database (without --databases)",
    ("mysql", "CREATE SCHEMA"): "would create another database; dump one database (without --databases)",
    ("mysql", "DROP DATABASE"): "would drop a database; dump without --add-drop-database",
    ("mysql", "DROP SCHEMA"): "would drop a database; dump without --add-drop-database",
    ("mysql", "ALTER DATABASE"): "would alter a database by name; remove it",
    ("mysql", "ALTER SCHEMA"): "would alter a database by name; remove it",
    ("postgresql", "CREATE DATABASE"): "would create another database; dump without --create",
    ("postgresql", "DROP DATABASE"): "would drop a database; dump without --create and --clean",
    ("postgresql", "ALTER DATABASE"): "would alter a database by name; dump without --create",
    ("sqlite", "ATTACH"): "would open another database file; remove it",
    ("sqlite", "DETACH"): "belongs to an ATTACH; remove it",
}
#: psql's own commands in pg_dump output that only guard the dump itself; dropped.
_HARMLESS_META = {"restrict", "unrestrict"}
_LEADING = re.compile(r"\s+|--[^\n]*|#[^\n]*|/\*!\d*|/\*.*?\*/", re.DOTALL)
_FIRST_WORDS = re.compile(r"([A-Za-z]+)(?:\s+([A-Za-z]+))?")


def _leaves_scratch(statement: Statement, family: str) -> str | None:
    """Why ``statement`` must not run in a scratch database, or ``None``."""
    text_ = statement.text
    if text_.startswith("\\"):
        name = text_[1:].split(None, 1)[0] if text_[1:].strip() else ""
        if name in _HARMLESS_META:
            return None
        if name in ("c", "connect"):
            return f"psql's \\{name} would connect to another database; dump without --create"
        return f"psql's \\{name} is not SQL; remove it (pg_dump --schema-only writes none but \\restrict)"
    match = _FIRST_WORDS.match(_leading_code(text_))
    if match is None:
        return None
    words = [match.group(1).upper(), (match.group(2) or "").upper()]
    for said in (words[0], " ".join(words).strip()):
        reason = _UNSAFE.get((family, said))
        if reason:
            return f"{said} {reason}"
    if family == "postgresql" and words[0] == "COPY" and re.search(r"\bFROM\s+stdin\b", text_, re.IGNORECASE):
        return "COPY … FROM stdin needs psql; dump the schema only (pg_dump --schema-only), or data with --inserts"
    return None


def _leading_code(text_: str) -> str:
    """``text_`` without the comments before its first word; of a MariaDB ``/*!40101 …*/`` only the opener goes."""
    at = 0
    while True:
        match = _LEADING.match(text_, at)
        if match is None or match.end() == at:
            return text_[at:]
        at = match.end()


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[^\n]*", re.IGNORECASE)


def split_sql(script: str, family: str) -> list[Statement]:
    """The statements of a SQL script, split at semicolons outside strings, quoted names and comments.

    Per dialect family: MariaDB's ``#`` comments, backslash escapes, backquotes
    and the mysql client's ``DELIMITER``; PostgreSQL's dollar quotes, ``E''``
    strings, nested comments and psql's ``\\`` commands (returned as statements
    of their own, starting with the backslash); SQLite's ``[names]``. A
    statement made of comments only is left out; executable comments
    (``/*!40101 … */``) are statements.

    >>> [s.text for s in split_sql("-- a; b\\nINSERT INTO t VALUES ('x;y'); /* ; */ SELECT 1;", "sqlite")]
    ["INSERT INTO t VALUES ('x;y')", 'SELECT 1']
    """
    mysql, pg = family == "mysql", family == "postgresql"
    out: list[Statement] = []
    delimiter = ";"
    n = len(script)
    i = 0
    start = -1  # where the statement being read began; -1 between statements
    lines_at, line = 0, 1

    def line_of(pos: int) -> int:
        nonlocal lines_at, line
        line += script.count("\n", lines_at, pos)
        lines_at = pos
        return line

    def emit(end: int) -> None:
        nonlocal start
        text_ = script[start:end].strip()
        if text_:
            out.append(Statement(line_of(start), text_, start, end))
        start = -1

    while i < n:
        c = script[i]
        if start < 0:
            if c in " \t\r\n":
                i += 1
                continue
            at_line_start = i == 0 or script[i - 1] == "\n" or script[script.rfind("\n", 0, i) + 1:i].strip() == ""
            if pg and c == "\\" and at_line_start:
                end = script.find("\n", i)
                end = n if end < 0 else end
                start = i
                emit(end)
                i = end
                continue
            if mysql and at_line_start:
                match = _DELIMITER.match(script, i)
                if match:
                    delimiter = match.group(1)
                    i = match.end()
                    continue
        if script.startswith("--", i) and (not mysql or i + 2 >= n or script[i + 2] in " \t\r\n"):
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if mysql and c == "#":
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if script.startswith("/*", i):
            if mysql and start < 0 and (script.startswith("/*!", i) or script.startswith("/*M!", i)):
                start = i  # an executable comment: the server runs what is inside
            i = _comment_end(script, i, nested=pg)
            continue
        if script.startswith(delimiter, i):
            if start >= 0:
                emit(i)
            i += len(delimiter)
            continue
        if start < 0:
            start = i
        if c == "'" or c == '"':
            # MariaDB strings take backslash escapes; PostgreSQL's only in E'…'.
            escapes = mysql or (pg and c == "'" and i > 0 and script[i - 1] in "eE"
                                and (i < 2 or not _ident_char(script[i - 2])))
            i = _quoted_end(script, i, c, escapes)
        elif c == "`" and not pg:
            i = _quoted_end(script, i, "`", False)
        elif c == "[" and family == "sqlite":
            end = script.find("]", i + 1)
            i = n if end < 0 else end + 1
        elif c == "$" and pg and (i == 0 or not _ident_char(script[i - 1])):
            match = _DOLLAR_TAG.match(script, i)
            if match:
                end = script.find(match.group(0), match.end())
                i = n if end < 0 else end + len(match.group(0))
            else:
                i += 1
        else:
            i += 1
    if start >= 0:
        emit(n)
    return out


def _ident_char(c: str) -> bool:
    return c.isalnum() or c in "_$"


def _quoted_end(script: str, i: int, quote: str, escapes: bool) -> int:
    """Just past the quote that closes the one at ``i``; a doubled quote is part of the text."""
    n, j = len(script), i + 1
    while j < n:
        c = script[j]
        if escapes and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and script[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _comment_end(script: str, i: int, *, nested: bool) -> int:
    depth, j, n = 0, i, len(script)
    while j < n:
        if script.startswith("/*", j):
            depth += 1 if nested or depth == 0 else 0
            j += 2
        elif script.startswith("*/", j):
            depth -= 1
            j += 2
            if depth <= 0:
                return j
        else:
            j += 1
    return n


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
