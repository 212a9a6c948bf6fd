"""Safety, never leaks: a planted password appears in no output, report, log line or error, raw or URL-encoded.

The password (:data:`faults.HOSTILE_PASSWORD`, ``p@ss:w/rd%?#&-Zq7``) must be
URL-encoded in a URL, and it is planted three ways: percent-encoded in
``url``, raw in a discrete ``password`` key, and raw in an environment
variable that ``password = ${VAR}`` reads. On PostgreSQL it is also the scratch server's
password. Every run uses ``--debug`` (tracebacks and debug logs on stderr)
unless the test is about the one-line error, and every spelling of the
password (:func:`faults.spellings`) is looked for in stdout, stderr and
every file the run wrote: HTML, Markdown, JSON, text, the ticket, the
latest copies.

The success path logs in for real (a read-only role on PostgreSQL, a
SELECT-only user on MariaDB, both with that password); the failure paths
are an unreachable server, a login refused (a MariaDB user whose password is
another), a database that does not exist, a connection that times out (a
proxy that accepts and answers nothing), and broken config files.

Also proven elsewhere (docs/safety.md lists them): masking itself
(tests/test_secrets.py), one masked line per failure with a plain password
(tests/test_errors.py::test_cannot_check, ::test_debug_shows_the_traceback_still_masked),
progress, retry and debug lines of a run
(tests/test_run.py::test_progress_retries_and_debug_logs_never_show_the_password),
HTML masking before escaping (tests/test_report_html.py::test_a_secret_is_masked_before_it_is_escaped).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

import dbs
import faults
from faults import restore_logging_and_imports  # noqa: F401  (autouse)
from drift.cli import cli
from fleet import closed_port
from scenarios import execute, use_example_models
from test_causes import NICKNAME, REPO, Example

PW = faults.HOSTILE_PASSWORD
VAR = "DRIFT_SAFETY_PW"
METHODS = ("url", "key", "var")
MARKS = {"postgresql": pytest.mark.postgresql, "mysql": pytest.mark.mysql}
SCANNED = {"total": 0, "leaks": 0}


def env_lines(method: str, url: URL, password: str = PW) -> tuple[str, dict[str, str]]:
    """The [prod] lines that name ``url`` with ``password`` planted the ``method`` way, and the variables."""
    if method == "url":
        rendered = (f"{url.drivername}://{url.username}:{quote(password, safe='')}@{url.host}:{url.port}"
                    f"/{url.database}")
        return f"url = {rendered}\n", {}
    value = password if method == "key" else "${" + VAR + "}"
    lines = (f"dialect = {url.get_backend_name()}\ndriver = {url.get_driver_name()}\nhost = {url.host}\n"
             f"port = {url.port}\nuser = {url.username}\npassword = {value}\ndatabase = {url.database}\n")
    return lines, ({VAR: password} if method == "var" else {})


def scratch_line(dialect: str) -> str:
    server = dbs.server_url(dialect)
    if dialect != "postgresql" or server.password:
        return f"scratch_url = {server.render_as_string(hide_password=False)}\n"
    # The PostgreSQL test server trusts 127.0.0.1: the planted password is accepted and still has to be masked.
    user = server.username or "postgres"
    return f"scratch_url = {server.drivername}://{user}:{quote(PW, safe='')}@{server.host}:{server.port}/{server.database}\n"


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prod: str, *, extra: str = "") -> Path:
    root = tmp_path / "project"
    if not root.exists():
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO / "alembic", root / "alembic", ignore=ignore)
        shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    use_example_models()
    config = root / "config.ini"
    config.write_text(
        "[drift]\nmodels = models.base:Base\nmodel_modules = models\n\n[prod]\n" + prod + extra, encoding="utf-8"
    )
    return config


def invoke(*args: str, environ: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=environ or {})


def assert_no_leak(result: Result, *folders: Path) -> int:
    """No spelling of the password anywhere the run wrote; returns how many texts were scanned."""
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    found = {where: faults.leaks(text, PW) for where, text in texts.items() if faults.leaks(text, PW)}
    SCANNED["total"] += len(texts)
    SCANNED["leaks"] += len(found)
    faults.figure("secrets.scanned", dict(SCANNED))
    assert found == {}, found
    assert "Traceback" not in result.stdout
    return len(texts)


def assert_one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("drift: error: "), result.stderr
    return lines[0]


# --------------------------------------------------------------------------- success


@contextlib.contextmanager
def login_with_the_password(dialect: str, live: URL) -> Iterator[URL]:
    login = faults.pg_read_only_role if dialect == "postgresql" else faults.mariadb_select_only_user
    with login(live) as reader:
        assert reader.password == PW
        yield reader


# Every spelling on PostgreSQL; MariaDB once (its driver's messages differ, the config path does not).
@pytest.mark.parametrize(
    "dialect, method",
    [pytest.param("postgresql", m, marks=MARKS["postgresql"]) for m in METHODS]
    + [pytest.param("mysql", "var", marks=MARKS["mysql"])],
)
def test_a_whole_nightly_run_never_shows_the_password(
    dialect: str, method: str, make_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = make_db(dialect)
    example = Example(tmp_path / "migrate", dialect, live)
    (tmp_path / "migrate").mkdir()
    shutil.copytree(REPO / "alembic", example.root / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    use_example_models()
    example.migrate("0001_initial")
    execute(live, NICKNAME)
    with login_with_the_password(dialect, live) as reader:
        lines, environ = env_lines(method, reader)
        config = project(tmp_path, monkeypatch, lines + scratch_line(dialect) + "statement_timeout = 20\n")
        reports = tmp_path / "reports"
        nightly = invoke(
            "--debug", "check", "--all", "--config", str(config), "--output", f"{reports}/", "--ticket",
            str(reports / "ticket.md"), *[a for f in ("html", "markdown", "json", "text") for a in ("--format", f)],
            environ=environ,
        )
        one = invoke("--debug", "check", "--env", "prod", "--config", str(config), environ=environ)
        listing = invoke("envs", "--config", str(config), environ=environ)
    assert nightly.exit_code == 1, nightly.output
    assert one.exit_code == 1, one.output
    assert "drift: INFO:" in nightly.stderr  # the logs below warnings were on, and scanned
    assert {p.suffix for p in reports.iterdir()} >= {".html", ".md", ".json", ".txt"}
    assert "out_of_band" in (reports / "drift-prod-latest.json").read_text(encoding="utf-8")
    assert_no_leak(nightly, reports)
    assert_no_leak(one)
    assert listing.exit_code == 0 and "***" in listing.stdout
    assert_no_leak(listing)


# --------------------------------------------------------------------------- every way to fail


def unreachable() -> URL:
    return URL.create("postgresql+psycopg", username="app", host="127.0.0.1", port=closed_port(), database="app")


@pytest.mark.parametrize("method", METHODS)
def test_unreachable(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines, environ = env_lines(method, unreachable())
    config = project(tmp_path, monkeypatch, lines + "connect_retries = 0\n")
    plain = invoke("check", "--env", "prod", "--config", str(config), environ=environ)
    assert "cannot connect" in assert_one_error_line(plain)
    debug = invoke("--debug", "check", "--env", "prod", "--config", str(config), environ=environ)
    assert debug.exit_code == 2 and "Traceback" in debug.stderr
    assert_no_leak(plain)
    assert_no_leak(debug)


@pytest.mark.mysql
@pytest.mark.parametrize("method", METHODS)
def test_login_refused(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dbs.require_server("mysql")
    user = faults.new_login()[0]
    server = dbs.server_url("mysql")
    try:
        with faults.admin("mysql") as conn:
            for host in ("%", "localhost", "127.0.0.1"):
                conn.exec_driver_sql("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, "Another-pw-8rt"))
        lines, environ = env_lines(method, server.set(username=user, database="test"))
        config = project(tmp_path, monkeypatch, lines + "connect_retries = 0\n")
        plain = invoke("check", "--env", "prod", "--config", str(config), environ=environ)
        assert "Access denied" in assert_one_error_line(plain)
        debug = invoke("--debug", "check", "--env", "prod", "--config", str(config), environ=environ)
        assert debug.exit_code == 2
    finally:
        with faults.admin("mysql") as conn:
            for host in ("%", "localhost", "127.0.0.1"):
                conn.exec_driver_sql("DROP USER IF EXISTS %s@%s", (user, host))
    assert not faults.mariadb_user_exists(user)
    assert_no_leak(plain)
    assert_no_leak(debug)


@pytest.mark.postgresql
@pytest.mark.parametrize("method", METHODS)
def test_database_missing(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dbs.require_server("postgresql")
    server = dbs.server_url("postgresql")
    lines, environ = env_lines(method, server.set(username=server.username or "postgres", database="drift_no_such_db"))
    config = project(tmp_path, monkeypatch, lines)
    plain = invoke("check", "--env", "prod", "--config", str(config), environ=environ)
    assert "does not exist" in assert_one_error_line(plain)
    debug = invoke("--debug", "check", "--env", "prod", "--config", str(config), environ=environ)
    assert debug.exit_code == 2
    assert_no_leak(plain)
    assert_no_leak(debug)


@pytest.mark.postgresql
@pytest.mark.parametrize("method", ["url", "var"])  # 2 s each: libpq's shortest connect_timeout
def test_connection_timed_out(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dbs.require_server("postgresql")
    server = dbs.server_url("postgresql")
    with faults.proxy(server.port or 5432, stalled=True, lifetime=20) as silent:
        target = server.set(username=server.username or "postgres", port=silent.port)
        lines, environ = env_lines(method, target)
        config = project(tmp_path, monkeypatch, lines + "connect_timeout = 1\nconnect_retries = 0\n")
        debug = invoke("--debug", "check", "--env", "prod", "--config", str(config), environ=environ)
    assert debug.exit_code == 2
    assert debug.stderr.splitlines()[-1].startswith("drift: error: environment 'prod'")
    assert "timed out" in debug.stderr.splitlines()[-1]
    assert_no_leak(debug)


BAD_CONFIGS = {
    "a line without =": f"password {PW}\n",
    "a bad port": f"dialect = postgresql\nhost = db\nport = {PW}\npassword = {PW}\n",
    "a bad timeout beside the password": f"url = postgresql://u:{quote(PW, safe='')}@db/app\nstatement_timeout = {PW}\n",
    "both url and keys": f"url = postgresql://u:{quote(PW, safe='')}@db/app\npassword = {PW}\n",
    "an unset variable in the url": "url = postgresql://u:${DRIFT_SAFETY_UNSET}@db/app\n",
    "a url that is not one": f"url = {PW}\n",
    "a password that breaks the url": f"url = postgresql://u:{PW}@db/app\n",
    "an unknown dialect": f"url = oracle://u:{quote(PW, safe='')}@db/app\n",
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = project(tmp_path, monkeypatch, BAD_CONFIGS[name])
    plain = invoke("check", "--env", "prod", "--config", str(config))
    assert_one_error_line(plain)
    debug = invoke("--debug", "check", "--env", "prod", "--config", str(config))
    listing = invoke("envs", "--config", str(config))
    assert debug.exit_code == 2 and listing.exit_code in (0, 2)
    assert_no_leak(plain)
    assert_no_leak(debug)
    assert_no_leak(listing)
