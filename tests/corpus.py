"""A type- and default-rich set of models that must compare clean on every dialect.

:func:`build` returns a fresh :class:`~sqlalchemy.MetaData` for one dialect
("sqlite", "postgresql" or "mysql"): every SQLAlchemy generic type, the
dialect's own types, identity and serial keys, computed columns, server
defaults of every shape, indexes, named and unnamed constraints, comments.
What a dialect cannot hold is left out for that dialect only, and
:data:`NOT_ON` says why, so the gaps are data rather than silence.

Each call builds new objects, so a test may change the models it got (plant a
difference) without touching any other test's models.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.pool import NullPool
from sqlalchemy.types import UserDefinedType

DIALECTS = ("sqlite", "postgresql", "mysql")

#: (table, column or None) → {dialect: why it is not in that dialect's corpus}.
NOT_ON: dict[tuple[str, str | None], dict[str, str]] = {
    ("pg_types", None): {
        "sqlite": "PostgreSQL types",
        "mysql": "PostgreSQL types",
    },
    ("mysql_types", None): {
        "sqlite": "MySQL/MariaDB types",
        "postgresql": "MySQL/MariaDB types",
    },
    ("indexes", "ix_indexes_lower_name"): {
        "mysql": "MariaDB has no expression indexes",
        "sqlite": "SQLAlchemy cannot reflect SQLite expression indexes; alembic skips them",
    },
    ("indexes", "ix_indexes_partial"): {
        "mysql": "MariaDB has no partial indexes",
    },
    ("defaults", "uuid_fn"): {
        "sqlite": "no UUID function",
        "mysql": "MariaDB allows uuid() only as a default of a UUID column",
    },
    ("comments", None): {
        "sqlite": "SQLite has no comments",
    },
}


def excluded(dialect: str, table: str, item: str | None = None) -> bool:
    return dialect in NOT_ON.get((table, item), {})


class Point(UserDefinedType[Any]):
    """A PostgreSQL type SQLAlchemy does not know: reflection gives NullType."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "POINT"


# MariaDB needs a length on every VARCHAR; the other two take a bare String.
def _string() -> sa.types.TypeEngine[Any]:
    return sa.String().with_variant(sa.String(255), "mysql", "mariadb")


def _generic_types(md: sa.MetaData, dialect: str) -> sa.Table:
    return sa.Table(
        "generic_types", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("s_len", sa.String(50)),
        sa.Column("s_nolen", _string()),
        sa.Column("txt", sa.Text),
        sa.Column("uni", sa.Unicode(40)),
        sa.Column("utxt", sa.UnicodeText),
        sa.Column("i", sa.Integer),
        sa.Column("si", sa.SmallInteger),
        sa.Column("bi", sa.BigInteger),
        sa.Column("num", sa.Numeric(10, 2)),
        sa.Column("num4", sa.Numeric(12, 4)),
        sa.Column("num0", sa.Numeric(8, 0)),
        sa.Column("flt", sa.Float),
        sa.Column("dbl", sa.Double),
        sa.Column("b", sa.Boolean),
        sa.Column("d", sa.Date),
        sa.Column("dt", sa.DateTime),
        sa.Column("dttz", sa.DateTime(timezone=True)),
        sa.Column("t", sa.Time),
        sa.Column("iv", sa.Interval),
        sa.Column("lb", sa.LargeBinary),
        sa.Column("js", sa.JSON),
        sa.Column("u", sa.Uuid),
        sa.Column("en", sa.Enum("low", "mid", "high", name="corpus_level")),
        sa.Column("en_nn", sa.Enum("x", "y", native_enum=False, length=10)),
        sa.Column("req", sa.String(20), nullable=False),
        comment=None,
    )


def _pg_types(md: sa.MetaData, dialect: str) -> sa.Table:
    return sa.Table(
        "pg_types", md,
        sa.Column("id", sa.BigInteger, primary_key=True),  # BIGSERIAL
        sa.Column("jb", postgresql.JSONB),
        sa.Column("arr", postgresql.ARRAY(sa.Integer)),
        sa.Column("tags", postgresql.ARRAY(sa.String(20))),
        sa.Column("ip", postgresql.INET),
        sa.Column("ci", postgresql.CITEXT),
        sa.Column("pt", Point()),
        sa.Column("ts", postgresql.TSVECTOR),
        sa.Column("rng", postgresql.INT4RANGE),
        sa.Column("mood", postgresql.ENUM("sad", "ok", "happy", name="corpus_mood")),
        sa.Column("ttz", sa.Time(timezone=True)),
    )


def _mysql_types(md: sa.MetaData, dialect: str) -> sa.Table:
    return sa.Table(
        "mysql_types", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tiny", mysql.TINYINT(1)),
        sa.Column("mt", mysql.MEDIUMTEXT),
        sa.Column("variant", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")),
        sa.Column("uns", mysql.INTEGER(unsigned=True)),
        sa.Column("yr", mysql.YEAR),
        sa.Column("lblob", mysql.LONGBLOB),
        sa.Column("st", mysql.SET("r", "w", "x")),
        sa.Column("me", mysql.ENUM("on", "off")),
        sa.Column("dbl", mysql.DOUBLE),
        sa.Column("ch", sa.CHAR(3)),
        sa.Column("touched", mysql.TIMESTAMP, server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP")),
    )


def _keys(md: sa.MetaData, dialect: str) -> list[sa.Table]:
    return [
        sa.Table(
            "keys_identity", md,
            sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
            sa.Column("v", sa.Integer),
        ),
        sa.Table(
            "keys_serial", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("v", sa.Integer),
        ),
        sa.Table(
            "keys_natural", md,
            sa.Column("code", sa.String(10), primary_key=True),
            sa.Column("v", sa.Integer),
        ),
        sa.Table(
            "keys_composite", md,
            sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("b", sa.String(10), primary_key=True),
            sa.Column("v", sa.Integer),
        ),
    ]


def _computed(md: sa.MetaData, dialect: str) -> sa.Table:
    return sa.Table(
        "computed", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer),
        sa.Column("b", sa.Integer),
        sa.Column("total", sa.Integer, sa.Computed("a + b", persisted=True)),
    )


def _defaults(md: sa.MetaData, dialect: str) -> sa.Table:
    columns: list[sa.Column[Any]] = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_fn", sa.DateTime, server_default=sa.func.now()),
        sa.Column("created_ts", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("day", sa.Date, server_default=sa.text("CURRENT_DATE")),
        sa.Column("flag_false", sa.Boolean, server_default=sa.false()),
        sa.Column("flag_true", sa.Boolean, server_default=sa.true()),
        sa.Column("flag_text", sa.Boolean, server_default=sa.text("false")),
        sa.Column("flag_zero", sa.Boolean, server_default="0"),
        sa.Column("n_int", sa.Integer, server_default="0"),
        sa.Column("n_text", sa.Integer, server_default=sa.text("42")),
        sa.Column("n_neg", sa.Integer, server_default=sa.text("-1")),
        sa.Column("n_dec", sa.Numeric(10, 2), server_default="1.5"),
        sa.Column("n_dec2", sa.Numeric(10, 2), server_default=sa.text("2.50")),
        sa.Column("n_flt", sa.Float, server_default="0.5"),
        sa.Column("s_plain", sa.String(20), server_default="new"),
        sa.Column("s_empty", sa.String(20), server_default=""),
        sa.Column("s_quote", sa.String(20), server_default="it's"),
        sa.Column("s_text", sa.String(20), server_default=sa.text("'draft'")),
        sa.Column("expr", sa.Integer, server_default=sa.text("(1 + 2)")),
    ]
    if not excluded(dialect, "defaults", "uuid_fn"):
        columns.append(sa.Column("uuid_fn", sa.Uuid, server_default=sa.text("gen_random_uuid()")))
    return sa.Table("defaults", md, *columns)


def _indexes(md: sa.MetaData, dialect: str) -> sa.Table:
    table = sa.Table(
        "indexes", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50)),
        sa.Column("email", sa.String(100)),
        sa.Column("a", sa.Integer),
        sa.Column("b", sa.Integer),
        sa.Column("active", sa.Boolean),
        sa.Index("ix_indexes_email_unique", "email", unique=True),
        sa.Index("ix_indexes_a_b", "a", "b"),
        sa.Index("ix_indexes_name", "name"),
    )
    if not excluded(dialect, "indexes", "ix_indexes_lower_name"):
        sa.Index("ix_indexes_lower_name", sa.func.lower(table.c.name))
    if not excluded(dialect, "indexes", "ix_indexes_partial"):
        where = table.c.active.is_(sa.true()) if dialect == "postgresql" else sa.text("active = 1")
        sa.Index("ix_indexes_partial", table.c.b, postgresql_where=where, sqlite_where=where)
    return table


def _constraints(md: sa.MetaData, dialect: str) -> list[sa.Table]:
    parent = sa.Table(
        "parents", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("region", sa.String(10), nullable=False),
        sa.UniqueConstraint("code", name="uq_parents_code"),
        sa.UniqueConstraint("code", "region"),
    )
    child = sa.Table(
        "children", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id", name="fk_children_parent", ondelete="CASCADE")),
        sa.Column("other_parent_id", sa.Integer, sa.ForeignKey("parents.id")),
        sa.Column("p_code", sa.String(10)),
        sa.Column("p_region", sa.String(10)),
        sa.Column("priority", sa.Integer),
        sa.Column("qty", sa.Integer),
        sa.Column("kind", sa.String(10)),
        sa.ForeignKeyConstraint(["p_code", "p_region"], ["parents.code", "parents.region"],
                                name="fk_children_parent_code"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="ck_children_priority"),
        sa.CheckConstraint("qty >= 0"),
        sa.CheckConstraint("kind IN ('a', 'b', 'c')", name="ck_children_kind"),
        sa.CheckConstraint("length(kind) > 0 AND (qty < 100 OR priority = 5)", name="ck_children_mixed"),
    )
    return [parent, child]


def _comments(md: sa.MetaData, dialect: str) -> sa.Table:
    return sa.Table(
        "comments", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note", sa.String(20), comment="what the row is about"),
        sa.Column("quoted", sa.String(20), comment="it's \"quoted\""),
        comment="a table with comments",
    )


_BUILDERS: dict[str, Callable[[sa.MetaData, str], Any]] = {
    "generic_types": _generic_types,
    "pg_types": _pg_types,
    "mysql_types": _mysql_types,
    "keys": _keys,
    "computed": _computed,
    "defaults": _defaults,
    "indexes": _indexes,
    "constraints": _constraints,
    "comments": _comments,
}


def build(dialect: str, metadata: sa.MetaData | None = None) -> sa.MetaData:
    """The corpus models for ``dialect``, on a new MetaData unless one is given."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    md = metadata if metadata is not None else sa.MetaData()
    for name, builder in _BUILDERS.items():
        if not excluded(dialect, name):
            builder(md, dialect)
    return md


def prepare_database(connection: sa.Connection) -> None:
    """What the corpus needs in a database before its tables: PostgreSQL's citext extension."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS citext"))


def create(url: sa.URL, dialect: str) -> None:
    """The corpus tables, created (with what they need first) in the empty database at ``url``."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            prepare_database(conn)
            build(dialect).create_all(conn)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- an alembic project that opts in

#: The env.py of a project whose ``alembic revision --autogenerate`` uses drift's comparators:
#: the one import and the one option docs/detection.md tells users to add.
ENV_PY = '''\
from alembic import context

import drift.comparators  # noqa: F401  (registers drift's autogenerate plugins)

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes["metadata"],
    compare_type=True,
    compare_server_default=True,
    render_as_batch=connection.dialect.name == "sqlite",
    autogenerate_plugins=["alembic.autogenerate.*", "drift.*"],
)
with context.begin_transaction():
    context.run_migrations()
'''


class AlembicProject:
    """A throwaway alembic project in ``root`` whose env.py opts in to drift's plugins.

    The models and the connection are handed to env.py through
    ``Config.attributes``, so one project serves any models and any database.
    """

    def __init__(self, root: Path) -> None:
        import alembic

        self.root = root
        migrations = root / "migrations"
        (migrations / "versions").mkdir(parents=True, exist_ok=True)
        (migrations / "env.py").write_text(ENV_PY)
        template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
        # Autogenerate writes a user type as corpus.Point() and leaves its import to the template.
        (migrations / "script.py.mako").write_text(
            template.read_text().replace("${imports if imports else \"\"}",
                                         "import corpus\n${imports if imports else \"\"}"))

    def _config(self, connection: sa.Connection, metadata: sa.MetaData) -> Any:
        from alembic.config import Config

        config = Config(stdout=io.StringIO())
        config.set_main_option("script_location", str(self.root / "migrations"))
        config.attributes["connection"] = connection
        config.attributes["metadata"] = metadata
        return config

    def revision(self, connection: sa.Connection, metadata: sa.MetaData, message: str = "auto") -> str:
        """``alembic revision --autogenerate``; returns the text of the script written."""
        from alembic import command

        script = command.revision(self._config(connection, metadata), message=message, autogenerate=True)
        assert script is not None and not isinstance(script, list)
        return Path(script.path).read_text()

    def upgrade(self, connection: sa.Connection, metadata: sa.MetaData, revision: str = "head") -> None:
        """``alembic upgrade head`` on ``connection``."""
        from alembic import command

        command.upgrade(self._config(connection, metadata), revision)
