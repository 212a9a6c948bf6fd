"""``drift.check`` against real SQLite, PostgreSQL and MariaDB databases.

Every scenario builds a database from one models source and compares it with
another that differs in exactly one way. Where a difference cannot be seen on
a dialect (by alembic's autogenerate or drift's own comparators), or is seen as
something else, the tables below say so and the test asserts what really
happens; the ``LIMITATION`` comments are the raw material of docs/detection.md.
Also here: the example application's round trip, stable ids and order, and the
read-only, time-limited sessions drift opens.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from drift.config import Config
from drift.connect import connect
from drift.errors import CheckTimeoutError, ConnectError
from drift.findings import Finding, Report
from drift.report import render
import dbs
from scenarios import (
    Project, build, empty, isolated_imports, make_project, summary, upgrade_example, use_example_models,
)


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


@pytest.fixture(scope="module")
def _server_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], URL]]:
    """One database per server for this module, made when first asked for and dropped at its end."""
    with contextlib.ExitStack() as stack:
        made: dict[str, URL] = {}

        def database(dialect: str) -> URL:
            if dialect not in made:
                made[dialect] = stack.enter_context(dbs.temp_database(dialect, tmp_path_factory.mktemp("db")))
            return made[dialect]

        yield database


@pytest.fixture
def empty_db(dialect: str, tmp_path: Path, _server_databases: Callable[[str], URL]) -> Iterator[URL]:
    """An empty database, like ``db_url``; on a server it is this module's database, emptied first.

    Creating and dropping a PostgreSQL database per test costs more than the test itself; emptying
    one before each test keeps every test starting from nothing, whatever ran before it.
    """
    if dialect == "sqlite":
        with dbs.temp_database(dialect, tmp_path) as url:
            yield url
        return
    url = _server_databases(dialect)
    empty(url)
    yield url


# --------------------------------------------------------------------------- schemas


def schema(
    *,
    fk: bool = False,
    name_length: int = 50,
    name_nullable: bool = False,
    qty_default: str = "0",
    qty_comment: str | None = None,
    table_comment: str | None = None,
    item_extra: str = "",
    tables: str = "",
) -> str:
    """Two tables, ``parent`` and ``item``; each keyword changes one thing about ``item``."""
    fk_arg = ', ForeignKey("parent.id", name="fk_item_parent")' if fk else ""
    comment_arg = f", comment={qty_comment!r}" if qty_comment is not None else ""
    table_arg = f"comment={table_comment!r}," if table_comment is not None else ""
    return f"""
metadata = MetaData()
Table(
    "parent", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False),
)
Table(
    "item", metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer{fk_arg}),
    Column("name", String({name_length}), nullable={name_nullable}),
    Column("qty", Integer, server_default={qty_default!r}{comment_arg}),
    {item_extra}
    {table_arg}
)
{tables}
"""


def one_column(definition: str) -> str:
    """A table ``t`` with one column ``c`` of the given type and keywords."""
    return f'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True), Column("c", {definition}))\n'


EXTRA_TABLE = 'Table("extra", metadata, Column("id", Integer, primary_key=True))'


def column(type_: str, *, nullable: bool = True, default: str | None = None, comment: str | None = None,
           primary_key: bool = False) -> dict[str, Any]:
    return {"type": type_, "nullable": nullable, "default": default, "comment": comment, "primary_key": primary_key}


NO_COMMENTS = "SQLite has no comments on tables or columns; nothing to compare"

Expected = tuple[str, str, str, "str | None", "Mapping[str, Any] | None", "Mapping[str, Any] | None"]


@dataclass(frozen=True)
class Scenario:
    """``database`` builds the database, ``models`` is what drift compares it with.

    ``expected`` maps a dialect (or ``"*"`` for the others) to the findings, as
    ``(kind, object_type, table, name, models side, database side)``; ``ddl``
    plants what no models source can say.
    """

    database: str
    models: str
    expected: Mapping[str, list[Expected]]
    skip: Mapping[str, str] = field(default_factory=dict)
    ddl: tuple[str, ...] = ()  # run in the database after ``database`` is created

    def expected_for(self, dialect: str) -> list[Expected]:
        return self.expected.get(dialect, self.expected.get("*", []))


UNIQUE_NAME = 'UniqueConstraint("name", name="uq_item_name"),'
CHECK_QTY = 'CheckConstraint("{condition}", name="ck_item_qty"),'
UNIQUE_STATE = {"type": "unique", "columns": ["name"]}
FK_STATE = {"type": "foreignkey", "columns": ["parent_id"], "references": "parent", "referred_columns": ["id"]}

KINDS: dict[str, Scenario] = {
    "add_table": Scenario(
        schema(),
        schema(tables=EXTRA_TABLE),
        {"*": [("add_table", "table", "extra", None,
                {"columns": {"id": column("INTEGER", nullable=False, primary_key=True)}, "comment": None}, None)]},
    ),
    "remove_table": Scenario(
        schema(tables=EXTRA_TABLE),
        schema(),
        {
            "*": [("remove_table", "table", "extra", None, None,
                   {"columns": {"id": column("INTEGER", nullable=False, primary_key=True)}, "comment": None})],
            # The database side is reflected: MariaDB reports INT with its display width.
            "mysql": [("remove_table", "table", "extra", None, None,
                       {"columns": {"id": column("INTEGER(11)", nullable=False, primary_key=True)}, "comment": None})],
        },
    ),
    "add_column": Scenario(
        schema(),
        schema(item_extra='Column("color", String(10)),'),
        {"*": [("add_column", "column", "item", "color", column("VARCHAR(10)"), None)]},
    ),
    "remove_column": Scenario(
        schema(item_extra='Column("color", String(10)),'),
        schema(),
        {"*": [("remove_column", "column", "item", "color", None, column("VARCHAR(10)"))]},
    ),
    "modify_type": Scenario(
        schema(name_length=50),
        schema(name_length=80),
        {"*": [("modify_type", "column", "item", "name", {"type": "VARCHAR(80)"}, {"type": "VARCHAR(50)"})]},
    ),
    "modify_nullable": Scenario(
        schema(name_nullable=False),
        schema(name_nullable=True),
        {"*": [("modify_nullable", "column", "item", "name", {"nullable": True}, {"nullable": False})]},
    ),
    "modify_default": Scenario(
        schema(qty_default="0"),
        schema(qty_default="5"),
        {
            # The database side is the default as the database reports it: SQLite keeps the
            # quoted literal of the CREATE TABLE, PostgreSQL casts it to the integer 0, MariaDB
            # returns the bare value. The models side is the server_default text.
            "sqlite": [("modify_default", "column", "item", "qty", {"default": "5"}, {"default": "'0'"})],
            "*": [("modify_default", "column", "item", "qty", {"default": "5"}, {"default": "0"})],
        },
    ),
    "modify_comment": Scenario(
        schema(),
        schema(qty_comment="how many"),
        {"*": [("modify_comment", "column", "item", "qty", {"comment": "how many"}, {"comment": None})]},
        skip={"sqlite": NO_COMMENTS},
    ),
    "add_index": Scenario(
        schema(),
        schema(item_extra='Index("ix_item_name", "name"),'),
        {"*": [("add_index", "index", "item", "ix_item_name", {"columns": ["name"], "unique": False}, None)]},
    ),
    "remove_index": Scenario(
        schema(item_extra='Index("ix_item_name", "name"),'),
        schema(),
        {"*": [("remove_index", "index", "item", "ix_item_name", None, {"columns": ["name"], "unique": False})]},
    ),
    "add_constraint": Scenario(
        schema(),
        schema(item_extra=UNIQUE_NAME),
        {"*": [("add_constraint", "unique_constraint", "item", "uq_item_name", UNIQUE_STATE, None)]},
    ),
    "remove_constraint": Scenario(
        schema(item_extra=UNIQUE_NAME),
        schema(),
        {
            "*": [("remove_constraint", "unique_constraint", "item", "uq_item_name", None, UNIQUE_STATE)],
            # LIMITATION (MariaDB): a unique constraint is a unique index there, and reflection
            # returns it as one, so a unique constraint missing from the models reads as a
            # unique index to drop.
            "mysql": [("remove_index", "index", "item", "uq_item_name", None, {"columns": ["name"], "unique": True})],
        },
    ),
    # alembic does not compare check constraints; drift's comparator (drift.checks) does.
    "add_check_constraint": Scenario(
        schema(),
        schema(item_extra=CHECK_QTY.format(condition="qty >= 0")),
        {"*": [("add_constraint", "check_constraint", "item", "ck_item_qty", {"type": "check", "sqltext": "qty >= 0"},
                None)]},
    ),
    "remove_check_constraint": Scenario(
        schema(item_extra=CHECK_QTY.format(condition="qty >= 0")),
        schema(),
        {
            "*": [("remove_constraint", "check_constraint", "item", "ck_item_qty", None,
                   {"type": "check", "sqltext": "qty >= 0"})],
            # The database side is the condition as the database keeps it: MariaDB quotes names.
            "mysql": [("remove_constraint", "check_constraint", "item", "ck_item_qty", None,
                       {"type": "check", "sqltext": "`qty` >= 0"})],
        },
    ),
    "add_fk": Scenario(
        schema(fk=False),
        schema(fk=True),
        {"*": [("add_fk", "foreign_key", "item", "fk_item_parent", FK_STATE, None)]},
    ),
    "remove_fk": Scenario(
        # On MariaDB the database also has the index that backs the key; alembic knows it
        # comes with the key and does not report it as an index to drop.
        schema(fk=True),
        schema(fk=False),
        {"*": [("remove_fk", "foreign_key", "item", "fk_item_parent", None, FK_STATE)]},
    ),
    "add_table_comment": Scenario(
        schema(),
        schema(table_comment="things we sell"),
        {"*": [("add_table_comment", "table_comment", "item", None,
                {"comment": "things we sell"}, {"comment": None})]},
        skip={"sqlite": NO_COMMENTS},
    ),
    "change_table_comment": Scenario(
        # A changed comment is alembic's create_table_comment too: kind add_table_comment.
        schema(table_comment="things we sell"),
        schema(table_comment="things we stock"),
        {"*": [("add_table_comment", "table_comment", "item", None,
                {"comment": "things we stock"}, {"comment": "things we sell"})]},
        skip={"sqlite": NO_COMMENTS},
    ),
    "remove_table_comment": Scenario(
        schema(table_comment="things we sell"),
        schema(),
        {"*": [("remove_table_comment", "table_comment", "item", None,
                {"comment": None}, {"comment": "things we sell"})]},
        skip={"sqlite": NO_COMMENTS},
    ),
}

# Differences that some dialect cannot see or sees as something else, and the ones only drift's
# own comparators (drift.comparators) make out.
EDGE_CASES: dict[str, Scenario] = {
    "remove_unnamed_unique": Scenario(
        schema(item_extra='UniqueConstraint("name"),'),
        schema(),
        {
            # LIMITATION (SQLite): an unnamed UNIQUE in the database reflects without a name,
            # and alembic never drops an unnamed constraint, so it goes unreported.
            "sqlite": [],
            # PostgreSQL names it <table>_<column>_key.
            "postgresql": [("remove_constraint", "unique_constraint", "item", "item_name_key", None, UNIQUE_STATE)],
            # MariaDB names the index after its first column, and it is an index (see above).
            "mysql": [("remove_index", "index", "item", "name", None, {"columns": ["name"], "unique": True})],
        },
    ),
    "add_unnamed_unique": Scenario(
        schema(),
        schema(item_extra='UniqueConstraint("name"),'),
        # Without a name the finding is named after its type and columns, so its id is still stable.
        {"*": [("add_constraint", "unique_constraint", "item", "(unique: name)", UNIQUE_STATE, None)]},
    ),
    "unique_index_in_database_constraint_in_models": Scenario(
        schema(item_extra='Index("uq_item_name", "name", unique=True),'),
        schema(item_extra=UNIQUE_NAME),
        {
            "*": [
                ("remove_index", "index", "item", "uq_item_name", None, {"columns": ["name"], "unique": True}),
                ("add_constraint", "unique_constraint", "item", "uq_item_name", UNIQUE_STATE, None),
            ],
            # LIMITATION (MariaDB): the two are the same thing there, so no difference.
            "mysql": [],
        },
    ),
    "unique_constraint_in_database_index_in_models": Scenario(
        schema(item_extra=UNIQUE_NAME),
        schema(item_extra='Index("uq_item_name", "name", unique=True),'),
        {
            "*": [
                ("add_index", "index", "item", "uq_item_name", {"columns": ["name"], "unique": True}, None),
                ("remove_constraint", "unique_constraint", "item", "uq_item_name", None, UNIQUE_STATE),
            ],
            "mysql": [],
        },
    ),
    "primary_key_without_not_null": Scenario(
        "metadata = MetaData()\n",
        'metadata = MetaData()\nTable("solo", metadata, Column("id", Integer, primary_key=True))\n',
        {
            # LIMITATION (SQLite): a primary key written by hand without NOT NULL reflects as
            # nullable (SQLite lets most primary keys hold NULL), so it is reported, even for an
            # INTEGER PRIMARY KEY, which cannot. Tables made by SQLAlchemy or alembic say NOT NULL.
            "sqlite": [("modify_nullable", "column", "solo", "id", {"nullable": False}, {"nullable": True})],
            # Elsewhere a primary key is NOT NULL whatever the DDL says.
            "*": [],
        },
        ddl=("CREATE TABLE solo (id INTEGER PRIMARY KEY)",),
    ),
    "timezone_added": Scenario(
        one_column("sa.DateTime()"),
        one_column("sa.DateTime(timezone=True)"),
        {
            "postgresql": [("modify_type", "column", "t", "c", {"type": "TIMESTAMP WITH TIME ZONE"},
                            {"type": "TIMESTAMP WITHOUT TIME ZONE"})],
            # LIMITATION (SQLite, MariaDB): neither has a time-zone-aware timestamp type, so the
            # models asking for one is not a difference there.
            "*": [],
        },
    ),
    "enum_value_added": Scenario(
        one_column("sa.Enum('a', 'b', name='e')"),
        one_column("sa.Enum('a', 'b', 'c', name='e')"),
        {
            # A named type on PostgreSQL, compared by drift.enums.
            "postgresql": [("modify_enum", "enum", "t", "e", {"values": ["a", "b", "c"], "columns": ["t.c"]},
                            {"values": ["a", "b"], "columns": ["t.c"]})],
            "mysql": [("modify_type", "column", "t", "c", {"type": "ENUM('a','b','c')"}, {"type": "ENUM('a','b')"})],
            # LIMITATION (SQLite): an enum is a VARCHAR as long as its longest value and, since
            # SQLAlchemy 2.0, has no CHECK constraint, so a new value of the same length is invisible.
            "sqlite": [],
        },
    ),
    "server_default_removed": Scenario(
        one_column("String(10), server_default='x'"),
        one_column("String(10)"),
        {
            # The database side is the default as each database spells it.
            "sqlite": [("modify_default", "column", "t", "c", {"default": None}, {"default": "'x'"})],
            "postgresql": [("modify_default", "column", "t", "c", {"default": None},
                            {"default": "'x'::character varying"})],
            "mysql": [("modify_default", "column", "t", "c", {"default": None}, {"default": "'x'"})],
        },
    ),
    # Renamed, not dropped and added: drift.renames pairs them up on every dialect, MariaDB's
    # unique index included.
    "renamed_unique": Scenario(
        schema(item_extra='UniqueConstraint("name", name="uq_a"),'),
        schema(item_extra='UniqueConstraint("name", name="uq_b"),'),
        {"*": [("rename_constraint", "unique_constraint", "item", "uq_b", {"name": "uq_b", **UNIQUE_STATE},
                {"name": "uq_a", **UNIQUE_STATE})]},
    ),
    # A changed condition under the same name (drift.checks), compared after normalising both sides.
    "changed_check_condition": Scenario(
        schema(item_extra=CHECK_QTY.format(condition="qty >= 0")),
        schema(item_extra=CHECK_QTY.format(condition="qty >= 1")),
        {
            "*": [("modify_check", "check_constraint", "item", "ck_item_qty",
                   {"name": "ck_item_qty", "sqltext": "qty >= 1", "normalized": "(qty >= 1)"},
                   {"name": "ck_item_qty", "sqltext": "qty >= 0", "normalized": "(qty >= 0)"})],
            "mysql": [("modify_check", "check_constraint", "item", "ck_item_qty",
                       {"name": "ck_item_qty", "sqltext": "qty >= 1", "normalized": "(qty >= 1)"},
                       {"name": "ck_item_qty", "sqltext": "`qty` >= 0", "normalized": "(qty >= 0)"})],
        },
    ),
}


def as_expected(finding: Finding) -> Expected:
    return (finding.kind, finding.object_type, finding.table, finding.name,
            _plain(finding.models), _plain(finding.database))


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(json.dumps(value))


def run_scenario(scenario: Scenario, dialect: str, url: URL, tmp_path: Path) -> Report:
    if dialect in scenario.skip:
        pytest.skip(scenario.skip[dialect])
    build(url, scenario.database, *scenario.ddl)
    return make_project(tmp_path / "project", url, scenario.models).check()


@pytest.mark.parametrize("kind", list(KINDS))
def test_one_difference_of_each_kind(kind: str, dialect: str, empty_db: URL, tmp_path: Path) -> None:
    scenario = KINDS[kind]
    report = run_scenario(scenario, dialect, empty_db, tmp_path)
    assert [as_expected(f) for f in report.findings] == scenario.expected_for(dialect)
    assert report.has_drift == bool(scenario.expected_for(dialect))


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_what_each_dialect_can_see(case: str, dialect: str, empty_db: URL, tmp_path: Path) -> None:
    scenario = EDGE_CASES[case]
    report = run_scenario(scenario, dialect, empty_db, tmp_path)
    assert [as_expected(f) for f in report.findings] == scenario.expected_for(dialect)


def test_every_kind_has_a_scenario() -> None:
    from drift.findings import ALEMBIC_KINDS, DRIFT_KINDS

    planted = {kind for scenario in KINDS.values() for e in scenario.expected.values() for kind, *_ in e}
    assert planted >= set(ALEMBIC_KINDS)
    # drift's own comparators are planted, both ways and on every dialect, beside their code's tests.
    here = Path(__file__).parent
    elsewhere = (here / "test_accuracy.py").read_text(encoding="utf-8") + (here / "test_comparators.py").read_text(
        encoding="utf-8"
    )
    assert [kind for kind in DRIFT_KINDS if f'"{kind}"' not in elsewhere] == []


def test_messages_name_the_object_and_both_sides(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    build(empty_db, schema(name_nullable=False, item_extra='Index("ix_item_name", "name"),'))
    models = schema(name_nullable=True, fk=True, tables=EXTRA_TABLE, item_extra='Column("color", String(10)),')
    report = make_project(tmp_path / "project", empty_db, models).check()
    assert [(f.kind, f.message, f.severity) for f in report.findings] == [
        ("add_table", "Table extra exists in the models but not in the database", "info"),
        ("add_column", "Column item.color exists in the models but not in the database", "info"),
        ("modify_nullable", "Column item.name is NOT NULL in the database but nullable in the models", "info"),
        ("remove_index", "Index ix_item_name on item (name) exists in the database but not in the models", "info"),
        ("add_fk", "Foreign key fk_item_parent on item (parent_id) referencing parent exists in the models "
                   "but not in the database", "warning"),
    ]
    assert report.verdict == "5 differences in 2 tables"


# --------------------------------------------------------------------------- the example application


def example_project(tmp_path: Path, url: URL) -> Project:
    use_example_models()
    return make_project(tmp_path / "project", url, None)


def test_example_models_built_with_create_all_have_no_drift(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    project = example_project(tmp_path, empty_db)
    from models.base import Base  # the example application, importable once use_example_models ran

    build(empty_db, Base.metadata)
    report = project.check()
    # The example models have server defaults on five columns (a literal, a boolean, an
    # enum and CURRENT_TIMESTAMP): compared, and equal on every dialect.
    assert [f.kind for f in report.findings] == []
    assert report.tables_compared == 3
    assert report.verdict == "No drift: the database matches the models (3 tables compared)"
    assert report.revision == ()


def test_example_migrations_are_one_column_behind(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    project = example_project(tmp_path, empty_db)
    upgrade_example(project, "head")
    report = project.check()
    assert [as_expected(f) for f in report.findings] == [
        ("add_column", "column", "users", "email", column("VARCHAR(255)"), None),
    ]
    assert report.revision == ("0002_task_due_date",)
    assert report.findings[0].upgrade_code.splitlines()[-1].strip() in (
        "op.add_column('users', sa.Column('email', sa.String(length=255), nullable=True))",
        "batch_op.add_column(sa.Column('email', sa.String(length=255), nullable=True))",
    )


# --------------------------------------------------------------------------- stable ids and order

MANY_DIFFERENCES_DB = schema(item_extra='Index("ix_item_name", "name"),', tables="""
Table("zeta", metadata, Column("id", Integer, primary_key=True))
Table("alpha", metadata, Column("id", Integer, primary_key=True), Column("old", String(5)))
""")
NEW_TABLES = """
Table("beta", metadata, Column("id", Integer, primary_key=True))
Table("alpha", metadata, Column("id", Integer, primary_key=True), Column("new", String(5)))
"""
MANY_DIFFERENCES_MODELS = schema(name_length=80, fk=True, item_extra='Column("color", String(10)),', tables=NEW_TABLES)
# The same models, with the new tables defined before parent and item.
MANY_DIFFERENCES_MODELS_REORDERED = "metadata = MetaData()\n" + NEW_TABLES + schema(
    name_length=80, fk=True, item_extra='Column("color", String(10)),'
).replace("metadata = MetaData()\n", "", 1)

MANY_DIFFERENCES_ORDER = [
    ("add_column", "alpha", "new"),
    ("remove_column", "alpha", "old"),
    # old and new share type and nullability: reported as a guess beside the pair.
    ("rename_column_candidate", "alpha", "old -> new"),
    ("add_table", "beta", None),
    # zeta (database) and beta (models) have the same columns: a table rename guess.
    ("rename_table_candidate", "beta", "zeta -> beta"),
    ("add_column", "item", "color"),
    ("modify_type", "item", "name"),
    ("remove_index", "item", "ix_item_name"),
    ("add_fk", "item", "fk_item_parent"),
    ("remove_table", "zeta", None),
]


def check_json(project: Project) -> tuple[Report, dict[str, Any]]:
    report = project.check()
    return report, json.loads(render(report, "json"))


def test_same_drift_same_ids_across_runs_and_databases(
    dialect: str, make_db: Callable[[str], URL], tmp_path: Path
) -> None:
    first_url, second_url = make_db(dialect), make_db(dialect)
    build(first_url, MANY_DIFFERENCES_DB)
    build(second_url, MANY_DIFFERENCES_DB)
    first = make_project(tmp_path / "first", first_url, MANY_DIFFERENCES_MODELS)
    second = make_project(tmp_path / "second", second_url, MANY_DIFFERENCES_MODELS)

    report_a, json_a = check_json(first)
    report_b, json_b = check_json(first)
    report_c, json_c = check_json(second)

    assert summary(report_a) == MANY_DIFFERENCES_ORDER
    ids = [f.id for f in report_a.findings]
    assert len(set(ids)) == len(ids)
    assert [f.id for f in report_b.findings] == ids
    assert [f.id for f in report_c.findings] == ids
    assert [f.to_dict() for f in report_c.findings] == [f.to_dict() for f in report_a.findings]

    # Two runs on one database: the same document apart from when it was made.
    assert json_a.pop("generated_at") and json_b.pop("generated_at")
    assert json_a == json_b
    # Another database with the same drift: the same findings, only where it lives differs.
    assert json_c["findings"] == json_a["findings"]


def test_order_does_not_depend_on_the_order_of_definitions(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    build(empty_db, MANY_DIFFERENCES_DB)
    reordered = MANY_DIFFERENCES_MODELS_REORDERED
    assert reordered.index('"beta"') < reordered.index('"parent"')
    report = make_project(tmp_path / "project", empty_db, reordered).check()
    assert summary(report) == MANY_DIFFERENCES_ORDER
    assert [f.sort_key() for f in report.findings] == sorted(f.sort_key() for f in report.findings)


# --------------------------------------------------------------------------- read-only, time-limited sessions

TINY = 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True))\n'

WRITES = ["CREATE TABLE intruder (id INTEGER)", "INSERT INTO t (id) VALUES (1)", "DROP TABLE t"]


def environment(tmp_path: Path, url: URL, env_lines: str = "") -> Any:
    project = make_project(tmp_path / "project", url, TINY, env_lines=env_lines)
    return Config.load(project.config_path).environment(project.env)


@pytest.mark.parametrize("statement", WRITES)
def test_session_refuses_to_write(statement: str, dialect: str, empty_db: URL, tmp_path: Path) -> None:
    build(empty_db, TINY)
    env = environment(tmp_path, empty_db)
    with pytest.raises(ConnectError) as raised:
        with connect(env) as conn:
            conn.exec_driver_sql(statement)
    reason = {
        "sqlite": "attempt to write a readonly database",
        "postgresql": "in a read-only transaction",
        "mysql": "Cannot execute statement in a READ ONLY transaction",
    }[dialect]
    assert reason in str(raised.value)
    assert str(raised.value).startswith("environment 't'")
    # Nothing changed.
    assert make_project(tmp_path / "again", empty_db, TINY).check().findings == ()


def test_session_settings(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    build(empty_db, TINY)
    env = environment(tmp_path, empty_db, "statement_timeout = 7.5")
    with connect(env) as conn:
        if dialect == "postgresql":
            assert conn.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "7500ms"
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "7500ms"
        elif dialect == "mysql":
            # MariaDB 10.11 spells it tx_read_only (transaction_read_only arrived in 11.1).
            row = conn.exec_driver_sql(
                "SELECT @@session.tx_read_only, @@session.max_statement_time, @@session.lock_wait_timeout"
            ).one()
            # Lock waits are whole seconds there: rounded up.
            assert tuple(row) == (1, 7.5, 8)
        else:
            assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1
            assert conn.engine.url.query == {"mode": "ro", "uri": "true"}
            # mode=ro holds at the file, below query_only: switching that off still cannot write.
            conn.exec_driver_sql("PRAGMA query_only = OFF")
            with pytest.raises(Exception, match="attempt to write a readonly database"):
                conn.exec_driver_sql("CREATE TABLE intruder (id INTEGER)")


SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
}


def test_statement_timeout_stops_a_slow_query(dialect: str, empty_db: URL, tmp_path: Path) -> None:
    build(empty_db, TINY)
    env = environment(tmp_path, empty_db, "statement_timeout = 1")
    with pytest.raises(CheckTimeoutError) as raised:
        with connect(env) as conn:
            conn.exec_driver_sql(SLOW[dialect]).all()
    message = str(raised.value)
    assert "timed out" in message
    assert "statement_timeout 1 s" in message


def test_sqlite_file_in_a_folder_whose_name_means_something_in_a_uri(tmp_path: Path) -> None:
    # sqlite3 opens the read-only file by URI: unescaped, '?' would end the path (and the mode=ro with
    # it, so a stray file would be created), '#' would start a fragment and '%' an escape.
    root = tmp_path / "odd ?dir #1 %41"
    root.mkdir()
    url = URL.create("sqlite+pysqlite", database=str(root / "app.db"))
    build(url, TINY)
    alembic_ini = "[alembic]\nscript_location = migrations\n"  # %(here)s would trip over the '%'
    project = make_project(root, url, TINY, alembic_ini=alembic_ini)
    env = Config.load(project.config_path).environment(project.env)
    with connect(env) as conn:
        assert conn.exec_driver_sql("PRAGMA database_list").all() == [(0, "main", str(root / "app.db"))]
        assert conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all() == ["t"]
    assert project.check().findings == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd ?dir #1 %41"]  # nothing created beside it


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_sqlite_file_is_not_changed_by_a_check(journal_mode: str, tmp_path: Path) -> None:
    # In WAL mode a read-only reader still gets the -wal and -shm companions from SQLite (it cannot
    # checkpoint them away on close); the database file itself stays byte for byte the same.
    path = tmp_path / "app.db"
    url = URL.create("sqlite+pysqlite", database=str(path))
    build(url, TINY, f"PRAGMA journal_mode = {journal_mode}")
    before = path.read_bytes()
    assert before[18] == {"delete": 1, "wal": 2}[journal_mode]  # the file format's read version: WAL or not
    report = make_project(tmp_path / "project", url, schema()).check()
    assert [f.kind for f in report.findings] == ["add_table", "add_table", "remove_table"]
    assert path.read_bytes() == before
