"""Scratch baselines: migration histories that do not start from an empty database, on SQLite, PostgreSQL and MariaDB.

The project under test (tests/fixtures/baseline/project) adopted Alembic after
its database existed: ``legacy_shop.initial``'s create_all made ``users``, the
first migration (0001) adds ``users.email`` to it, 0002 adds ``users.score``,
and the current models are one step ahead with ``users.bio``. The live
database is made the way such a database is: create_all of the initial
models, the migrations up to 0001, and a column added by hand. Without a
baseline drift cannot replay the history into an empty scratch database; with
one it tells each cause. Every scratch database a test makes must be gone.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

import dbs
from scenarios import logging_kept
import drift
from drift.causes import Attributor
from drift.cli import cli
from drift.config import Config, Environment
from drift.errors import ConfigError
from drift.findings import Report
from drift.history import compute_state, graph_from_script_directory
from drift.loading import load_alembic, load_metadata
from drift.scratch import BaselineConfigError, resolve_baseline, split_sql

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "baseline"
DUMPS = FIXTURES / "dumps"
PACKAGE = "legacy_shop"

NICKNAME = "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)"

#: What a baseline makes drift see: 0002 is pending, no migration adds bio, nickname was added by hand.
EXPECTED = {"users.score": "pending_migration", "users.bio": "missing_migration", "users.nickname": "out_of_band"}


# --------------------------------------------------------------------------- the project


@dataclass
class Shop:
    """A copy of the fixture project whose ``[prod]`` is a live test database."""

    root: Path
    dialect: str
    live: URL
    made: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.root / "config.ini"

    def configure(self, drift_lines: str = "", prod_lines: str = "") -> None:
        prod = [f"url = {self.live.render_as_string(hide_password=False)}"]
        if self.dialect != "sqlite":
            prod.append(f"scratch_url = {dbs.server_url(self.dialect).render_as_string(hide_password=False)}")
        text = (
            f"[drift]\nmodels = {PACKAGE}.models:Base\nmodel_modules = {PACKAGE}.models\n{drift_lines}\n\n"
            f"[prod]\n" + "\n".join(prod) + f"\n{prod_lines}\n"
        )
        self.config_path.write_text(text, encoding="utf-8")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def build_live(self, revision: str = "0001_add_email", *by_hand: str) -> None:
        """create_all of the initial models, ``alembic upgrade <revision>``, then the hand-made changes."""
        initial = importlib.import_module(f"{PACKAGE}.initial")
        engine = sa.create_engine(self.live, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                initial.Base.metadata.create_all(conn)
            with engine.begin() as conn:
                cfg = AlembicConfig()  # no file: no logging setup of its own
                cfg.set_main_option("script_location", str(self.root / "migrations"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            with engine.begin() as conn:
                for statement in by_hand:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def check(self) -> Report:
        return drift.check(self.config_path, "prod")

    def scratch_gone(self) -> bool:
        assert self.made, "no scratch database was made"
        if self.dialect == "sqlite":
            root = Path(tempfile.gettempdir())
            return not any(any(root.glob(f"{name}_*")) for name in self.made)
        return not set(self.made) & set(dbs.list_databases(self.dialect))


def _forget_package() -> None:
    # Each test copies the project afresh; its modules must come from that copy.
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture
def shop(dialect: str, db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    yield from _shop(dialect, db_url, tmp_path, monkeypatch)


@pytest.fixture
def sqlite_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    with dbs.temp_database("sqlite", tmp_path) as url:
        yield from _shop("sqlite", url, tmp_path, monkeypatch)


def _shop(dialect: str, url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "project", root, ignore=shutil.ignore_patterns("__pycache__"))
    saved_path = list(sys.path)
    monkeypatch.syspath_prepend(str(root))
    _forget_package()
    project = Shop(root, dialect, url)
    project.configure()
    dbs.record_scratch_names(monkeypatch, project.made)
    try:
        yield project
    finally:
        _forget_package()
        sys.path[:] = saved_path


def docs() -> str:
    return (REPO / "docs" / "attribution.md").read_text(encoding="utf-8")


def causes_of(report: Report) -> dict[str, str]:
    return {f.object_label: f.cause for f in report.findings if not f.kind.endswith("_candidate")}


def detail(report: Report, label: str) -> str:
    (found,) = [f for f in report.findings if f.object_label == label]
    return found.cause_detail or ""


def create_all_sql(module: str, dialect: str) -> list[str]:
    """The statements ``create_all`` of ``module``'s Base sends to ``dialect``, as a hand-kept schema file has them."""
    metadata = importlib.import_module(f"{PACKAGE}.{module}").Base.metadata
    url = {"sqlite": "sqlite://", "postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://"}[dialect]
    statements: list[str] = []
    engine = sa.create_mock_engine(
        make_url(url), lambda sql, *a, **kw: statements.append(str(sql.compile(dialect=engine.dialect)).strip())
    )
    metadata.create_all(engine, checkfirst=False)
    return statements


def hand_kept_sql(module: str, dialect: str, *extra: str) -> str:
    """A schema file as people write them: comments, blank lines, and semicolons inside string literals."""
    lines = [
        "-- The schema before the project used Alembic; keep it in step with legacy_shop.initial.",
        "/* Statements end with a semicolon; this comment has one; so does the row below. */",
        "",
    ]
    lines += [f"{statement};\n" for statement in create_all_sql(module, dialect)]
    lines += [
        "-- A row, so the table is not empty: the string literals hold semicolons and a doubled quote.",
        "INSERT INTO users (id, name, status) VALUES (1, 'semi; colon', 'it''s; new');",
        *extra,
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- without a baseline


def test_without_a_baseline_every_cause_is_unknown_and_the_note_asks_for_one(shop: Shop) -> None:
    shop.build_live("0001_add_email", NICKNAME)
    with logging_kept():
        result = CliRunner().invoke(
            cli, ["check", "--env", "prod", "--config", str(shop.config_path), "--format", "json"]
        )
    assert result.exit_code == 1, result.output  # drift found, as always: the missing causes change nothing
    document = json.loads(result.stdout)
    # A rename guess (nickname → bio, both unknown) pairs two findings; drift.comparators.renames tests those.
    findings = [f for f in document["findings"] if not f["kind"].endswith("_candidate")]
    assert {f"{f['table']}.{f['name']}": f["cause"] for f in findings} == dict.fromkeys(EXPECTED, "unknown")
    (note,) = document["notes"]
    assert note.startswith(
        f"Causes not attributed: revision 0001_add_email failed in the scratch {shop.dialect} database: "
    )
    assert "users" in note  # the database's own error names the table that is not there
    assert (
        "the first migration fails on an empty database, so the migrations probably start from tables made another "
        "way and a baseline is needed: set scratch_baseline = package.module:Base (the models the migrations start "
        "from) or scratch_baseline_sql = a schema dump, with scratch_baseline_revision if the baseline already "
        "includes revisions, in [prod] or [drift]."
    ) in note
    assert "\n" not in note
    for finding in findings:
        assert finding["cause_detail"] == "Cause not known: " + note.removeprefix("Causes not attributed: ")
    assert shop.scratch_gone()
    if shop.dialect == "postgresql":  # docs/attribution.md quotes this run's note
        assert f"\n{note}\n" in docs()


# --------------------------------------------------------------------------- each kind of baseline


def assert_expected_causes(shop: Shop, report: Report) -> None:
    assert causes_of(report) == EXPECTED, [f.cause_detail for f in report.findings]
    assert detail(report, "users.score").startswith(
        'Pending revision 0002_add_score ("Add users.score.") makes this change; the database is at 0001_add_email.'
    )
    assert "head (0002_add_score) differs from the models here too" in detail(report, "users.bio")
    assert "recorded revision (0001_add_email) matches the models here" in detail(report, "users.nickname")
    assert report.notes == ()
    assert shop.scratch_gone()


def test_one_line_naming_the_initial_models_is_enough(shop: Shop) -> None:
    shop.build_live("0001_add_email", NICKNAME)
    shop.configure(drift_lines=f"scratch_baseline = {PACKAGE}.initial:Base")
    report = shop.check()
    assert_expected_causes(shop, report)
    if shop.dialect == "postgresql":  # docs/attribution.md's worked example is this run's output
        text = docs()
        for label in ("users.bio", "users.score"):
            assert f'"cause_detail": {json.dumps(detail(report, label))}' in text, label
        nickname = detail(report, "users.nickname")
        assert json.dumps(nickname[: nickname.index("Or adopt it")])[:-1] + '…"' in text


def test_a_baseline_sql_file(shop: Shop) -> None:
    shop.build_live("0001_add_email", NICKNAME)
    shop.write("schema/baseline.sql", hand_kept_sql("initial", shop.dialect))
    shop.configure(drift_lines="scratch_baseline_sql = schema/baseline.sql")
    assert_expected_causes(shop, shop.check())


def test_a_dump_per_dialect_beside_the_configured_file_wins(shop: Shop) -> None:
    shop.build_live("0001_add_email", NICKNAME)
    (shop.root / "schema").mkdir()
    for dump in DUMPS.glob("baseline.*.sql"):  # real pg_dump, mariadb-dump and sqlite3 .dump output
        shutil.copy(dump, shop.root / "schema" / dump.name)
    shop.write("schema/baseline.sql", "this file is not used while a baseline.<dialect>.sql is beside it;\n")
    shop.configure(drift_lines="scratch_baseline_sql = schema/baseline.sql")
    assert_expected_causes(shop, shop.check())


@pytest.mark.parametrize("kind", ["module", "sql"])
def test_a_baseline_that_already_includes_the_first_revision(shop: Shop, kind: str) -> None:
    shop.build_live("0001_add_email", NICKNAME)
    if kind == "module":
        setting = f"scratch_baseline = {PACKAGE}.at_0001:Base"
    else:
        # A dump of a stamped database: its version table says 0001; drift stamps what config.ini says anyway.
        version = "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);\n" \
                  "INSERT INTO alembic_version (version_num) VALUES ('0001_add_email');"
        shop.write("baseline.sql", hand_kept_sql("at_0001", shop.dialect, version))
        setting = "scratch_baseline_sql = baseline.sql"
    # Were 0001 replayed on top of this baseline, it would fail: users.email is already there.
    shop.configure(drift_lines=f"{setting}\nscratch_baseline_revision = 0001_add_email")
    assert_expected_causes(shop, shop.check())


def test_a_baseline_under_env_py(shop: Shop) -> None:
    # env.py then runs the migrations, on the scratch connection drift stamped after the baseline.
    shop.build_live("0001_add_email", NICKNAME)
    shop.configure(drift_lines=f"scratch_baseline = {PACKAGE}.initial:Base\nscratch_use_env_py = true")
    with logging_kept():
        assert_expected_causes(shop, shop.check())


def test_the_environment_s_baseline_wins_over_the_global_one(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email", NICKNAME)
    sqlite_shop.write("baseline.sql", "CREATE TABLE nothing_like_users (id INTEGER);\n")
    sqlite_shop.configure(
        drift_lines="scratch_baseline_sql = baseline.sql\nscratch_baseline_revision = 0002_add_score",
        prod_lines=f"scratch_baseline = {PACKAGE}.initial:Base",
    )
    assert_expected_causes(sqlite_shop, sqlite_shop.check())


def test_an_empty_setting_turns_the_global_baseline_off_for_one_environment(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email")
    sqlite_shop.configure(drift_lines=f"scratch_baseline = {PACKAGE}.initial:Base", prod_lines="scratch_baseline =")
    report = sqlite_shop.check()
    assert set(causes_of(report).values()) == {"unknown"}
    assert "a baseline is needed" in report.notes[0]


# --------------------------------------------------------------------------- when the baseline does not fit


def test_a_failing_dump_names_its_file_and_line(shop: Shop) -> None:
    shop.build_live("0001_add_email")
    broken = hand_kept_sql("initial", shop.dialect, "", "CREATE TABLE half_written (id INTEGER,;")
    shop.write("schema/baseline.sql", broken)
    shop.configure(drift_lines="scratch_baseline_sql = schema/baseline.sql")
    report = shop.check()
    assert set(causes_of(report).values()) == {"unknown"}
    (note,) = report.notes
    # sqlite3 does not say which statement failed; the servers do.
    where = "" if shop.dialect == "sqlite" else f" line {len(broken.splitlines())}"
    assert note.startswith(
        "Causes not attributed: the baseline (scratch_baseline_sql = schema/baseline.sql in [drift]) "
        f"failed in the scratch {shop.dialect} database at schema/baseline.sql{where}: "
    ), note
    assert shop.scratch_gone()
    if shop.dialect == "postgresql":  # as docs/attribution.md quotes it
        assert note.removeprefix("Causes not attributed: ").split(": SyntaxError: ")[0] in docs()


def test_a_baseline_the_first_migration_does_not_fit_says_so(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email")
    sqlite_shop.configure(drift_lines=f"scratch_baseline = {PACKAGE}.at_0001:Base")  # but no revision
    report = sqlite_shop.check()
    (note,) = report.notes
    assert note.startswith("Causes not attributed: revision 0001_add_email failed in the scratch sqlite database: ")
    assert "duplicate column" in note
    assert note.endswith(
        f"; check that the baseline (scratch_baseline = {PACKAGE}.at_0001:Base in [drift]) "
        "is the schema it starts from."
    )
    assert sqlite_shop.scratch_gone()


def test_a_database_older_than_the_baseline_cannot_be_told(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email")
    sqlite_shop.configure(
        drift_lines=f"scratch_baseline = {PACKAGE}.at_0001:Base\nscratch_baseline_revision = 0002_add_score"
    )
    report = sqlite_shop.check()
    assert set(causes_of(report).values()) == {"unknown"}
    assert report.notes == (
        "Causes not attributed: the database records 0001_add_email, which is not at or after the baseline's "
        f"revision (scratch_baseline = {PACKAGE}.at_0001:Base, scratch_baseline_revision = 0002_add_score in "
        "[drift]), so the schema it implies cannot be built from the baseline.",
    )
    assert sqlite_shop.made == []


# --------------------------------------------------------------------------- settings that cannot work


@pytest.mark.parametrize(
    ("drift_lines", "prod_lines", "message"),
    [
        pytest.param(
            f"scratch_baseline = {PACKAGE}.initial:Base\nscratch_baseline_sql = baseline.sql", "",
            "[drift] sets both scratch_baseline and scratch_baseline_sql; keep the one the migrations start from",
            id="both",
        ),
        pytest.param(
            "scratch_baseline_revision = 0001_add_email", "",
            "[drift] scratch_baseline_revision = 0001_add_email has no baseline; "
            "set scratch_baseline or scratch_baseline_sql beside it",
            id="revision-alone",
        ),
        pytest.param(
            f"scratch_baseline = {PACKAGE}.initial:Base", "scratch_baseline_revision = 0001_add_email",
            "[prod] sets scratch_baseline_revision but no baseline; "
            "set scratch_baseline or scratch_baseline_sql in [prod] too",
            id="revision-without-its-baseline",
        ),
        pytest.param(
            f"scratch_baseline = {PACKAGE}.initial", "",
            f"[drift] scratch_baseline = '{PACKAGE}.initial' is not of the form module:attribute "
            "(for example app.initial_models:Base)",
            id="no-attribute",
        ),
        pytest.param(
            f"scratch_baseline = {PACKAGE}.no_such_module:Base", "",
            f"[drift] scratch_baseline: cannot import module '{PACKAGE}.no_such_module': no such module; "
            "fix scratch_baseline",
            id="no-module",
        ),
        pytest.param(
            f"scratch_baseline = {PACKAGE}.initial:User.name", "",
            f"[drift] scratch_baseline = {PACKAGE}.initial:User.name is a InstrumentedAttribute, "
            "not a declarative Base or MetaData",
            id="not-a-base",
        ),
        pytest.param(
            "scratch_baseline_sql = schema/missing.sql", "",
            "[drift] scratch_baseline_sql = schema/missing.sql: no such file for sqlite (looked for "
            "schema/missing.sql, schema/missing.sqlite.sql, relative to config.ini's folder)",
            id="no-file",
        ),
        pytest.param(
            f"scratch_baseline = {PACKAGE}.initial:Base\nscratch_baseline_revision = 0009", "",
            "[drift] scratch_baseline_revision = 0009 is not a revision the migration scripts define; "
            "name the revision the baseline stands for",
            id="unknown-revision",
        ),
    ],
)
def test_settings_that_cannot_work_stop_the_check_before_it_connects(
    sqlite_shop: Shop, drift_lines: str, prod_lines: str, message: str
) -> None:
    sqlite_shop.build_live("0001_add_email")
    sqlite_shop.configure(drift_lines=drift_lines, prod_lines=prod_lines)
    with pytest.raises(ConfigError) as caught:
        sqlite_shop.check()
    assert caught.value.message == message
    assert sqlite_shop.made == []


def test_a_unique_prefix_names_the_baseline_revision(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email", NICKNAME)
    sqlite_shop.configure(drift_lines=f"scratch_baseline = {PACKAGE}.at_0001:Base\nscratch_baseline_revision = 0001")
    assert_expected_causes(sqlite_shop, sqlite_shop.check())


def test_a_setting_that_cannot_work_is_exit_status_2(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email")
    sqlite_shop.configure(drift_lines="scratch_baseline_sql = missing.sql")
    with logging_kept():
        result = CliRunner().invoke(cli, ["check", "--env", "prod", "--config", str(sqlite_shop.config_path)])
    assert result.exit_code == 2, result.output
    assert "scratch_baseline_sql = missing.sql: no such file for sqlite" in result.output


@pytest.mark.parametrize(
    ("dialect_url", "dump", "message"),
    [
        pytest.param("mysql+pymysql://u@127.0.0.1:1/shop", "-- head\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;",
                     "baseline.sql line 2: CREATE DATABASE would create another database; "
                     "dump one database (without --databases)", id="mysql-create-database"),
        pytest.param("mysql+pymysql://u@127.0.0.1:1/shop", "CREATE TABLE t (id INT);\n\nUSE `shop`;",
                     "baseline.sql line 3: USE would leave the scratch database; "
                     "dump one database (without --databases)", id="mysql-use"),
        pytest.param("mysql+pymysql://u@127.0.0.1:1/shop", "/*!40000 DROP DATABASE IF EXISTS `shop`*/;",
                     "baseline.sql line 1: DROP DATABASE would drop a database; dump without --add-drop-database",
                     id="mysql-executable-comment"),
        pytest.param("postgresql+psycopg://u@127.0.0.1:1/shop", "\\restrict abc\n\\connect shop\n",
                     "baseline.sql line 2: psql's \\connect would connect to another database; dump without --create",
                     id="postgresql-connect"),
        pytest.param("postgresql+psycopg://u@127.0.0.1:1/shop", "CREATE DATABASE shop WITH TEMPLATE = template0;",
                     "baseline.sql line 1: CREATE DATABASE would create another database; dump without --create",
                     id="postgresql-create-database"),
        pytest.param("postgresql+psycopg://u@127.0.0.1:1/shop", "COPY public.users (id) FROM stdin;\n1\n\\.\n",
                     "baseline.sql line 1: COPY … FROM stdin needs psql; dump the schema only "
                     "(pg_dump --schema-only), or data with --inserts", id="postgresql-copy"),
        pytest.param("sqlite:///shop.db", "ATTACH DATABASE 'other.db' AS other;",
                     "baseline.sql line 1: ATTACH would open another database file; remove it", id="sqlite-attach"),
    ],
)
def test_a_dump_that_would_leave_the_scratch_database_is_refused(
    tmp_path: Path, dialect_url: str, dump: str, message: str
) -> None:
    (tmp_path / "baseline.sql").write_text(dump, encoding="utf-8")
    environment = Environment(name="prod", url=make_url(dialect_url), settings={})
    with pytest.raises(BaselineConfigError) as caught:
        resolve_baseline(environment, {"scratch_baseline_sql": "baseline.sql"}, tmp_path)
    assert caught.value.message == f"[drift] scratch_baseline_sql: {message}"


# --------------------------------------------------------------------------- the cache


def test_the_baseline_is_part_of_the_cache_key(sqlite_shop: Shop) -> None:
    sqlite_shop.build_live("0001_add_email", NICKNAME)
    sqlite_shop.write("baseline.sql", hand_kept_sql("initial", "sqlite"))
    sqlite_shop.configure(drift_lines="scratch_baseline_sql = baseline.sql")
    config = Config.load(sqlite_shop.config_path)
    environment = config.environment("prod")
    metadata = load_metadata(config)
    project = load_alembic(config)
    graph = graph_from_script_directory(project.script)
    attributor = Attributor.for_config(config, environment, project, metadata, graph)
    live = drift.check(sqlite_shop.config_path, "prod", attribute=False)
    state = compute_state(graph, live.revision, env="prod")

    def attribute() -> dict[str, str]:
        result = attributor.attribute(environment, live.findings, state, command_prefix="alembic -x env=prod")
        return {f.object_label: f.cause for f in result.findings if not f.kind.endswith("_candidate")}

    assert attribute() == EXPECTED
    (key,) = {base for _, base, _ in attributor.cache}
    assert key.startswith("baseline.sql#") and key.endswith("@base")
    assert sorted(revisions for _, _, revisions in attributor.cache) == [("0001_add_email",), ("0002_add_score",)]
    assert attribute() == EXPECTED and len(sqlite_shop.made) == 1  # the same baseline: nothing built again

    # Another dump is another baseline, even under the same name: built afresh, cached apart.
    sqlite_shop.write("baseline.sql", hand_kept_sql("initial", "sqlite") + "-- edited\n")
    assert attribute() == EXPECTED and len(sqlite_shop.made) == 2
    assert len({base for _, base, _ in attributor.cache}) == 2
    assert sqlite_shop.scratch_gone()


# --------------------------------------------------------------------------- splitting dumps


def test_a_real_mariadb_dump_splits_where_the_mysql_client_would() -> None:
    statements = split_sql((DUMPS / "baseline.mysql.sql").read_text(encoding="utf-8"), "mysql")
    texts = [s.text for s in statements]
    create = next(t for t in texts if t.startswith("CREATE TABLE `users`"))
    assert "COMMENT 'shown; as is'" in create and "DEFAULT 'new; unseen'" in create
    assert create.endswith("COLLATE=utf8mb4_general_ci")
    (trigger,) = [t for t in texts if "TRIGGER users_trim" in t]  # after DELIMITER ;; its body's semicolons stay
    assert trigger.startswith("/*!50003 CREATE*/") and trigger.endswith("END \n*/")
    assert not any(t.upper().startswith("DELIMITER") for t in texts)
    assert all(s.text == texts[i] for i, s in enumerate(statements))


def test_a_real_pg_dump_keeps_dollar_quotes_whole_and_sets_psql_commands_apart() -> None:
    statements = split_sql((DUMPS / "baseline.postgresql.sql").read_text(encoding="utf-8"), "postgresql")
    texts = [s.text for s in statements]
    assert [t.split()[0] for t in texts if t.startswith("\\")] == ["\\restrict", "\\unrestrict"]
    (function,) = [t for t in texts if t.startswith("CREATE FUNCTION")]
    assert function.endswith("END;\n$$") and "no padding; ever" in function
    assert "COMMENT ON COLUMN public.users.name IS 'shown; as is'" in texts


@pytest.mark.parametrize(
    ("family", "script", "expected"),
    [
        ("mysql", "INSERT INTO t VALUES ('it\\'s; here', \"a;\\\"b\");\n# c; d\nSELECT 1",
         ["INSERT INTO t VALUES ('it\\'s; here', \"a;\\\"b\")", "SELECT 1"]),
        ("mysql", "SELECT 1--1;\nSELECT `a;b` FROM t; -- done; really", ["SELECT 1--1", "SELECT `a;b` FROM t"]),
        ("mysql", "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$\ndelimiter ;\nSELECT 3;",
         ["CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "SELECT 3"]),
        ("postgresql", "SELECT E'a\\';b'; SELECT 'a\\'; SELECT $fn$ x; $$ y; $fn$;",
         ["SELECT E'a\\';b'", "SELECT 'a\\'", "SELECT $fn$ x; $$ y; $fn$"]),
        ("postgresql", "/* outer /* inner; */ still comment; */ SELECT a$b$c FROM t; SELECT 2",
         ["SELECT a$b$c FROM t", "SELECT 2"]),
        ("sqlite", "CREATE TABLE [a;b] (\"c;d\" TEXT, `e;f` TEXT);\n-- only a comment;\n;;",
         ["CREATE TABLE [a;b] (\"c;d\" TEXT, `e;f` TEXT)"]),
    ],
)
def test_split_sql(family: str, script: str, expected: list[str]) -> None:
    assert [s.text for s in split_sql(script, family)] == expected


def test_statements_know_their_line() -> None:
    script = "-- one\n\nCREATE TABLE a (x TEXT DEFAULT 'l\n2');\nSELECT 1;\n\n  SELECT 2;"
    assert [s.line for s in split_sql(script, "sqlite")] == [3, 5, 7]
