"""Every way a check can fail to happen: exit status 2, one masked line on stderr, no traceback.

Each case runs ``drift check`` in-process; a password (``S3cr3t-pw-9xq``) is
planted wherever the case can carry one, and must never be printed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.pool import NullPool

import dbs
from drift.cli import cli
from scenarios import PRELUDE, Project, isolated_imports, make_project

PASSWORD = "S3cr3t-pw-9xq"
TINY = 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True))\n'
PRELUDE_LINES = len((PRELUDE + "\n").splitlines())
# Nothing listens on port 1: the retries of a refused connection need not wait long here.
QUICK_RETRIES = "retry_backoff = 0.05"


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


@dataclass(frozen=True)
class Case:
    """A broken setup: ``project`` writes it; ``message`` is the whole error line, or its start with ``...``."""

    project: Callable[[Path], Project]
    message: str
    environ: dict[str, str] = field(default_factory=dict)
    needs: str | None = None
    ending: str = ""  # what a message given by its start must end with


def run(project: Project, *options: str, environ: dict[str, str] | None = None) -> Result:
    args = [*options, "check", "--env", project.env, "--config", str(project.config_path)]
    return CliRunner().invoke(cli, args, env=environ or {})


def assert_one_error_line(result: Result, message: str) -> str:
    """The run failed cleanly with ``message`` (``...`` at its end: a prefix) and leaked nothing."""
    assert result.exit_code == 2, result.output
    assert result.exc_info is not None and result.exc_info[0] is SystemExit  # nothing escaped the CLI
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    if message.endswith("..."):
        assert line.startswith("drift: error: " + message[:-3]), line
    else:
        assert line == "drift: error: " + message
    assert PASSWORD not in result.stdout + result.stderr
    return line


def sqlite_project(root: Path, models: str = TINY, **kwargs: Any) -> Project:
    """A project whose SQLite database exists (and has the one table of TINY)."""
    root.mkdir(parents=True, exist_ok=True)
    database = root / "app.db"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY)")
    return make_project(root, f"sqlite:///{database}", models, **kwargs)


def server_url(dialect: str, **changes: Any) -> str:
    return dbs.server_url(dialect).set(**changes).render_as_string(hide_password=False)


def where(dialect: str, **changes: Any) -> str:
    """How an error names a server database: masked URL, host and port."""
    url = dbs.server_url(dialect).set(**changes)
    return f"{url.render_as_string(hide_password=True)} (host {url.host}, port {url.port or 'default'})"


def config_text(text: str) -> Callable[[Path], Project]:
    def project(root: Path) -> Project:
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.ini").write_text(text, encoding="utf-8")
        return Project(root=root, module="")

    return project


def missing_driver(root: Path) -> Project:
    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("mysqlclient is installed here")
    return make_project(root, f"mysql+mysqldb://root:{PASSWORD}@db/shop", TINY)


def not_a_database(root: Path) -> Project:
    root.mkdir(parents=True)
    (root / "notes.db").write_text("shopping list: milk, eggs\n" * 100, encoding="utf-8")
    return make_project(root, None, TINY, env_lines="dialect = sqlite\ndatabase = notes.db")


def config_missing(root: Path) -> Project:
    return Project(root=root / "nowhere", module="")


def unknown_environment(root: Path) -> Project:
    project = make_project(
        root, f"postgresql://u:{PASSWORD}@127.0.0.1:1/x", TINY, env="prod",
        extra_sections="[staging]\ndialect = sqlite\ndatabase = s.db\n\n[logging]\nlevel = INFO",
    )
    return replace(project, env="prdo")


# A user of this test process only (dropped after each test), with another password than the one given.
MARIADB_USER = f"drift_t_{os.getpid()}_auth"


_mariadb_users: list[str] = []


@contextlib.contextmanager
def mariadb_admin() -> Iterator[sa.Connection]:
    engine = sa.create_engine(dbs.server_url("mysql"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def mariadb_wrong_password(root: Path) -> Project:
    _mariadb_users.append(MARIADB_USER)
    with mariadb_admin() as conn:
        for host in ("%", "localhost"):
            conn.exec_driver_sql("CREATE USER %s@%s IDENTIFIED BY %s", (MARIADB_USER, host, "Right-pw-4kd"))
    return make_project(root, server_url("mysql", username=MARIADB_USER, password=PASSWORD), TINY)


@pytest.fixture(autouse=True)
def _drop_mariadb_users() -> Iterator[None]:
    yield
    while _mariadb_users:
        user = _mariadb_users.pop()
        with mariadb_admin() as conn:
            for host in ("%", "localhost"):
                conn.exec_driver_sql("DROP USER IF EXISTS %s@%s", (user, host))


CASES: dict[str, Case] = {
    "config missing": Case(
        config_missing,
        "config file '{root}/nowhere/config.ini' not found; pass --config PATH or set DRIFT_CONFIG",
    ),
    "config malformed": Case(
        config_text(f"[drift]\nmodels = m:metadata\n\n[t]\npassword {PASSWORD}\n"),
        "config.ini is malformed at line 5: expected key = value, a [section] header or an indented continuation; "
        "fix that line",
    ),
    "config without a section header": Case(
        config_text(f"models = m:metadata\n[t]\npassword = {PASSWORD}\n"),
        "config.ini is malformed at line 1: File contains no section headers; fix that line",
    ),
    "config with a section twice": Case(
        config_text(f"[drift]\nmodels = m:metadata\n[t]\npassword = {PASSWORD}\n[t]\nurl = sqlite:///x.db\n"),
        "config.ini is malformed at line 5: section 't' already exists; fix that line",
    ),
    "unknown environment": Case(
        unknown_environment,
        "unknown environment 'prdo' in config.ini; known environments: prod, staging",
    ),
    "missing variable": Case(
        lambda root: make_project(root, "postgresql://app:${DRIFT_TEST_UNSET_PW}@db/app", TINY),
        "[t] url uses ${DRIFT_TEST_UNSET_PW}, but the environment variable DRIFT_TEST_UNSET_PW is not set; "
        "export DRIFT_TEST_UNSET_PW=… or write the value into the file",
    ),
    "invalid timeout": Case(
        lambda root: make_project(root, f"postgresql://app:{PASSWORD}@db/app", TINY, env_lines="statement_timeout = 0"),
        "[t] statement_timeout = '0' must be a number of seconds between 0 and 86400",
    ),
    "postgresql unreachable": Case(
        # A refused connection is retried (connect_retries, default 2) before it fails: still one line.
        lambda root: make_project(
            root, "postgresql://postgres:${DRIFT_TEST_PW}@127.0.0.1:1/postgres", TINY, env_lines=QUICK_RETRIES
        ),
        "environment 't' at postgresql+psycopg://postgres:***@127.0.0.1:1/postgres (host 127.0.0.1, port 1): "
        'cannot connect: connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused',
        environ={"DRIFT_TEST_PW": PASSWORD},
    ),
    "mariadb unreachable": Case(
        lambda root: make_project(
            root, None, TINY,
            env_lines=f"dialect = mysql\nhost = 127.0.0.1\nport = 1\nuser = root\npassword = {PASSWORD}\ndatabase = x\n"
            + QUICK_RETRIES,
        ),
        "environment 't' at mysql+pymysql://root:***@127.0.0.1:1/x (host 127.0.0.1, port 1): cannot connect: "
        "(2003, \"Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)\")",
    ),
    "postgresql database missing": Case(
        lambda root: make_project(root, server_url("postgresql", password=PASSWORD, database="drift_no_such_db"), TINY),
        f"environment 't' at {where('postgresql', password=PASSWORD, database='drift_no_such_db')}: "
        "cannot connect: connection failed: connection to server at ...",
        ending='failed: FATAL: database "drift_no_such_db" does not exist',
        needs="postgresql",
    ),
    "mariadb user unknown": Case(
        lambda root: make_project(root, server_url("mysql", username="drift_nobody", password=PASSWORD), TINY),
        f"environment 't' at {where('mysql', username='drift_nobody', password=PASSWORD)}: "
        # The host the server sees the client as depends on its name resolution: left open.
        "cannot connect: (1045, \"Access denied for user 'drift_nobody'@...",
        ending="(using password: YES)\")",
        needs="mysql",
    ),
    "mariadb wrong password": Case(
        mariadb_wrong_password,
        f"environment 't' at {where('mysql', username=MARIADB_USER, password=PASSWORD)}: "
        f"cannot connect: (1045, \"Access denied for user '{MARIADB_USER}'@...",
        ending="(using password: YES)\")",
        needs="mysql",
    ),
    "sqlite file missing": Case(
        lambda root: make_project(root, None, TINY, env_lines="dialect = sqlite\ndatabase = data/app.db"),
        "environment 't': SQLite file '{root}/data/app.db' not found; "
        "create it (for example: alembic upgrade head) or fix database in its section",
    ),
    "sqlite in memory": Case(
        lambda root: make_project(root, "sqlite://", TINY),
        "environment 't' names an in-memory SQLite database, which has no schema to check; "
        "set database = path/to/file.db",
    ),
    "dialect drift does not check": Case(
        lambda root: make_project(root, f"oracle://scott:{PASSWORD}@db/orcl", TINY),
        "environment 't' uses dialect 'oracle'; drift checks mariadb, mysql, postgresql, sqlite "
        "(read-only sessions are only guaranteed there)",
    ),
    "driver not installed": Case(
        missing_driver,
        f"environment 't': cannot load the driver for mysql+mysqldb://root:***@db/shop: No module named 'MySQLdb'; "
        "install that driver, or use mysql+pymysql (pip install 'drift-check[mysql]')",
    ),
    "sqlite file is not a database": Case(
        not_a_database,
        "environment 't' at sqlite+pysqlite:///{root}/notes.db: cannot connect: file is not a database",
    ),
    "models syntax error": Case(
        lambda root: sqlite_project(root, "metadata = MetaData(\n"),
        "cannot import models module '{module}' ({module}.py, line %d): SyntaxError: '(' was never closed"
        % (PRELUDE_LINES + 1),
    ),
    "models raise at import": Case(
        lambda root: sqlite_project(root, f"raise RuntimeError('no connection to postgresql://u:{PASSWORD}@h/d')\n"),
        "cannot import models module '{module}': RuntimeError: no connection to postgresql://u:***@h/d",
    ),
    "models import a missing module": Case(
        lambda root: sqlite_project(root, "import drift_no_such_dependency\n"),
        "cannot import models module '{module}': ModuleNotFoundError: No module named 'drift_no_such_dependency'",
    ),
    "models module missing": Case(
        lambda root: sqlite_project(root, models_ref="drift_gone_module:metadata"),
        "cannot import models module 'drift_gone_module': no such module; run drift from the project folder "
        "or fix [drift] models / model_modules",
    ),
    "models attribute missing": Case(
        lambda root: sqlite_project(root, models_ref="{module}:Base"),
        "models module '{module}' has no attribute 'Base'; set [drift] models = module:attribute to your "
        "declarative Base or MetaData",
    ),
    "models define no tables": Case(
        lambda root: sqlite_project(root, "metadata = MetaData()\n"),
        "{module}:metadata defines no tables (model_modules imported: {module}); refusing to check, since every "
        "table in the database would be reported as drift — list the modules that define your models in "
        "[drift] model_modules",
    ),
    "alembic.ini missing": Case(
        lambda root: sqlite_project(root, alembic_ini=None),
        "alembic.ini not found at alembic.ini; set [drift] alembic_ini to your Alembic config file",
    ),
    "alembic.ini malformed": Case(
        lambda root: sqlite_project(root, alembic_ini="[alembic\nscript_location = migrations\n"),
        "cannot read alembic.ini: MissingSectionHeaderError: File contains no section headers.",
    ),
    "alembic.ini with a bad interpolation": Case(
        lambda root: sqlite_project(root, alembic_ini="[alembic]\nscript_location = %(nowhere)s/migrations\n"),
        "cannot read alembic.ini: InterpolationMissingOptionError: Bad value substitution: "
        "option 'script_location' in section 'alembic' contains an interpolation key 'nowhere' "
        "which is not a valid option name. Raw value: '%(nowhere)s/migrations'",
    ),
    "script_location missing": Case(
        lambda root: sqlite_project(root, alembic_ini="[alembic]\npath_separator = os\n"),
        "alembic.ini has no script_location in its [alembic] section; add one",
    ),
    "script_location folder missing": Case(
        lambda root: sqlite_project(root, alembic_ini="[alembic]\nscript_location = %(here)s/nowhere\n"),
        "script_location '{root}/nowhere' in alembic.ini does not exist (nowhere); "
        "fix script_location or run alembic init",
    ),
}


def _case_params() -> list[Any]:
    marks = {"postgresql": pytest.mark.postgresql, "mysql": pytest.mark.mysql}
    return [pytest.param(name, id=name, marks=[marks[c.needs]] if c.needs else []) for name, c in CASES.items()]


def build_case(case: Case, root: Path) -> Project:
    if case.needs:
        dbs.require_server(case.needs)
    return case.project(root)


def expected_message(case: Case, root: Path, project: Project) -> str:
    return case.message.replace("{root}", str(root)).replace("{module}", project.module)


@pytest.mark.parametrize("name", _case_params())
def test_cannot_check(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = tmp_path / "project"
    project = build_case(case, root)
    result = run(project, environ=case.environ)
    line = assert_one_error_line(result, expected_message(case, root, project))
    assert line.endswith(case.ending)


@pytest.mark.parametrize("name", ["postgresql unreachable", "models raise at import", "mariadb wrong password"])
def test_debug_shows_the_traceback_still_masked(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    project = build_case(case, tmp_path / "project")
    result = run(project, "--debug", environ=case.environ)
    assert result.exit_code == 2
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("drift: error: ")
    assert PASSWORD not in result.stdout + result.stderr
    # The option works after the command too.
    late = CliRunner().invoke(
        cli, ["check", "--env", project.env, "--config", str(project.config_path), "--debug"], env=case.environ
    )
    assert "Traceback (most recent call last):" in late.stderr
    assert PASSWORD not in late.stdout + late.stderr


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    project = CASES["sqlite file missing"].project(tmp_path / "project")
    result = run(project)
    assert result.exit_code == 2
    assert not (project.root / "data").exists()
    assert sorted(p.name for p in project.root.rglob("*.db*")) == []


def test_a_missing_variable_elsewhere_does_not_stop_this_environment(tmp_path: Path) -> None:
    project = sqlite_project(
        tmp_path / "project",
        extra_sections="[prod]\ndialect = postgresql\nhost = db\npassword = ${DRIFT_TEST_UNSET_PW}",
    )
    result = run(project)
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- end to end, as a user runs it


def drift_process(*args: str, cwd: Path, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")}
    env.update(environ or {})
    return subprocess.run(
        [sys.executable, "-m", "drift", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_process_without_config(tmp_path: Path) -> None:
    done = drift_process("check", "--env", "prod", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "drift: error: config file 'config.ini' not found; pass --config PATH or set DRIFT_CONFIG\n"


def test_process_with_unreachable_database(tmp_path: Path) -> None:
    make_project(tmp_path, "postgresql://postgres:${DRIFT_PW}@127.0.0.1:1/postgres", TINY, env_lines=QUICK_RETRIES)
    done = drift_process("check", "--env", "t", cwd=tmp_path, environ={"DRIFT_PW": PASSWORD})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("drift: error: environment 't' at postgresql+psycopg://postgres:***@127.0.0.1:1/")
    assert PASSWORD not in done.stderr


def test_process_usage_error_is_status_2(tmp_path: Path) -> None:
    done = drift_process("check", cwd=tmp_path)
    assert done.returncode == 2
    assert "Missing option '--env'" in done.stderr
