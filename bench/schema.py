"""A generated schema for the benchmarks: N tables of varied shape, the same for the same seed.

The schema is first described as plain data (:class:`TableSpec`), then turned
into a SQLAlchemy :class:`~sqlalchemy.MetaData`. Describing it as data keeps
generation deterministic and lets the two sides of a comparison differ in a
few known places:

* ``side="models"`` is the schema the application declares;
* ``side="database"`` is what gets created in the database: the same tables,
  plus the handful of differences listed in :data:`PLANTS`, so that every tool
  under test has some drift to find and report.

Only portable types and defaults are used, so that on PostgreSQL, MariaDB and
SQLite the unplanted part of the schema compares clean.

>>> models = build_metadata(500, seed=1)
>>> database = build_metadata(500, seed=1, side="database")
>>> len(models.tables), len(database.tables)
(501, 501)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Sequence

import sqlalchemy as sa
from sqlalchemy.sql.schema import SchemaItem
from sqlalchemy.types import TypeEngine

Side = Literal["models", "database"]

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # a key of TYPES
    size: tuple[int, ...] = ()  # String length, Numeric precision and scale
    nullable: bool = True
    default: str | None = None  # SQL text of the server default
    comment: str | None = None
    primary_key: bool = False
    references: str | None = None  # "table.column"
    ondelete: str | None = None


@dataclass(frozen=True)
class IndexSpec:
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    indexes: tuple[IndexSpec, ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()
    checks: tuple[tuple[str, str], ...] = ()  # (name, SQL condition)
    comment: str | None = None

    def with_columns(self, *columns: ColumnSpec) -> TableSpec:
        return replace(self, columns=self.columns + columns)


TYPES: dict[str, Callable[[ColumnSpec], TypeEngine[Any]]] = {
    "integer": lambda c: sa.Integer(),
    "bigint": lambda c: sa.BigInteger(),
    "smallint": lambda c: sa.SmallInteger(),
    "varchar": lambda c: sa.String(c.size[0]),
    "text": lambda c: sa.Text(),
    "numeric": lambda c: sa.Numeric(c.size[0], c.size[1]),
    "boolean": lambda c: sa.Boolean(),
    "date": lambda c: sa.Date(),
    "timestamp": lambda c: sa.DateTime(),
    "binary": lambda c: sa.LargeBinary(),
}

# Kinds an index may cover (MariaDB needs a prefix length for TEXT and BLOB).
INDEXABLE = frozenset({"integer", "bigint", "smallint", "varchar", "numeric", "date", "timestamp"})

# Column kinds by weight, and the server defaults each may carry.
_KIND_WEIGHTS = {
    "integer": 5, "bigint": 2, "smallint": 1, "varchar": 6, "text": 2,
    "numeric": 2, "boolean": 2, "date": 1, "timestamp": 3, "binary": 1,
}
_DEFAULTS: dict[str, tuple[str, ...]] = {
    "integer": ("0", "1"),
    "bigint": ("0",),
    "smallint": ("0",),
    "varchar": ("'new'", "''"),
    "numeric": ("0",),
    "timestamp": ("CURRENT_TIMESTAMP",),
}
# Primary-key shapes: one integer id, one big integer id, a natural string key, two columns.
_PK_WEIGHTS = {"integer": 6, "bigint": 2, "natural": 1, "composite": 1}
_ONDELETE = (None, None, "CASCADE", "SET NULL")
_WORDS = ("account", "order", "item", "price", "state", "owner", "note", "code", "label", "total", "kind", "ref")


def generate(tables: int, seed: int = 0) -> list[TableSpec]:
    """``tables`` table descriptions, the same for the same ``seed``."""
    if tables < 1:
        raise ValueError("tables must be at least 1")
    rng = random.Random(seed)
    specs: list[TableSpec] = []
    targets: list[ColumnSpec] = []  # single-column primary keys a foreign key may point at
    for number in range(tables):
        name = f"t{number:05d}"
        # The first table always has an integer id: planted foreign keys point at it.
        shape = "integer" if number == 0 else _pick(rng, _PK_WEIGHTS)
        columns = _primary_key(name, shape)
        if targets and rng.random() < 0.6:
            columns.append(_foreign_key(rng, targets))
        if shape != "composite":
            targets.append(replace(columns[0], name=f"{name}.{columns[0].name}"))
        for position in range(rng.randint(3, 12)):
            columns.append(_column(rng, position))
        specs.append(_table(rng, name, columns))
    return specs


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _primary_key(table: str, shape: str) -> list[ColumnSpec]:
    if shape == "integer":
        return [ColumnSpec("id", "integer", nullable=False, primary_key=True)]
    if shape == "bigint":
        return [ColumnSpec("id", "bigint", nullable=False, primary_key=True)]
    if shape == "natural":
        return [ColumnSpec("code", "varchar", (32,), nullable=False, primary_key=True)]
    return [
        ColumnSpec("id", "integer", nullable=False, primary_key=True),
        ColumnSpec("part", "smallint", nullable=False, primary_key=True),
    ]


def _foreign_key(rng: random.Random, targets: Sequence[ColumnSpec]) -> ColumnSpec:
    target = rng.choice(targets[-200:])  # mostly recent tables, like a real schema's neighbourhoods
    ondelete = rng.choice(_ONDELETE)
    return ColumnSpec(
        "parent_id" if target.kind != "varchar" else "parent_code",
        target.kind,
        target.size,
        nullable=ondelete == "SET NULL" or rng.random() < 0.5,
        references=target.name,
        ondelete=ondelete,
    )


def _column(rng: random.Random, position: int) -> ColumnSpec:
    kind = _pick(rng, _KIND_WEIGHTS)
    size: tuple[int, ...] = ()
    if kind == "varchar":
        size = (rng.choice((20, 50, 100, 255)),)
    elif kind == "numeric":
        precision = rng.choice((10, 12, 18))
        size = (precision, rng.choice((0, 2, 4)))
    default = rng.choice(_DEFAULTS[kind]) if kind in _DEFAULTS and rng.random() < 0.3 else None
    if kind == "numeric" and default is not None and size[1]:
        # Written at the column's scale: MariaDB reports 0 in a NUMERIC(10, 2) as 0.00.
        default = f"{default}.{'0' * size[1]}"
    comment = f"the {rng.choice(_WORDS)} of this row" if rng.random() < 0.25 else None
    return ColumnSpec(
        f"{rng.choice(_WORDS)}_{position}", kind, size,
        nullable=rng.random() < 0.6, default=default, comment=comment,
    )


def _table(rng: random.Random, name: str, columns: list[ColumnSpec]) -> TableSpec:
    plain = [c for c in columns if not c.primary_key and c.kind in INDEXABLE and c.references is None]
    indexes: list[IndexSpec] = []
    uniques: list[tuple[str, ...]] = []
    checks: list[tuple[str, str]] = []
    referencing = [c for c in columns if c.references]
    if referencing and rng.random() < 0.7:
        indexes.append(IndexSpec((referencing[0].name,)))
    if plain and rng.random() < 0.5:
        indexes.append(IndexSpec((rng.choice(plain).name,)))
    if len(plain) >= 2 and rng.random() < 0.25:
        first, second = rng.sample(plain, 2)
        indexes.append(IndexSpec((first.name, second.name), unique=rng.random() < 0.3))
    strings = [c for c in plain if c.kind == "varchar" and c.name not in {n for i in indexes for n in i.columns}]
    if strings and rng.random() < 0.3:
        uniques.append((rng.choice(strings).name,))
    numbers = [c for c in columns if c.kind in ("integer", "numeric") and not c.primary_key and not c.references]
    if numbers and rng.random() < 0.3:
        checks.append(("positive", f"{rng.choice(numbers).name} >= 0"))
    comment = f"{rng.choice(_WORDS)}s, table {name}" if rng.random() < 0.5 else None
    return TableSpec(name, tuple(columns), tuple(indexes), tuple(uniques), tuple(checks), comment)


# --------------------------------------------------------------------------- planted differences


@dataclass(frozen=True)
class Plant:
    """One planted difference: the finding kind drift should report, and where."""

    kind: str
    table: str
    needs_comments: bool = False  # SQLite keeps no comments, so there it is no difference


# Each plant adds its own column (or table) so it never depends on a generated table's shape.
# Keyed by the finding kind; the value gives (models side, database side) of the change.
_Change = Callable[[TableSpec], tuple[TableSpec, TableSpec]]


def _add_column(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return t.with_columns(ColumnSpec("planted_added", "varchar", (40,))), t


def _remove_column(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return t, t.with_columns(ColumnSpec("planted_dropped", "integer"))


def _modify_type(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return (t.with_columns(ColumnSpec("planted_type", "varchar", (80,))),
            t.with_columns(ColumnSpec("planted_type", "varchar", (40,))))


def _modify_nullable(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return (t.with_columns(ColumnSpec("planted_nullable", "integer", nullable=False)),
            t.with_columns(ColumnSpec("planted_nullable", "integer", nullable=True)))


def _modify_default(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return (t.with_columns(ColumnSpec("planted_default", "integer", default="1")),
            t.with_columns(ColumnSpec("planted_default", "integer", default="0")))


def _modify_comment(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return (t.with_columns(ColumnSpec("planted_comment", "integer", comment="new meaning")),
            t.with_columns(ColumnSpec("planted_comment", "integer", comment="old meaning")))


def _add_index(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    column = t.with_columns(ColumnSpec("planted_indexed", "integer"))
    return replace(column, indexes=column.indexes + (IndexSpec(("planted_indexed",)),)), column


def _remove_index(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    column = t.with_columns(ColumnSpec("planted_unindexed", "integer"))
    return column, replace(column, indexes=column.indexes + (IndexSpec(("planted_unindexed",)),))


def _add_constraint(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    column = t.with_columns(ColumnSpec("planted_unique", "varchar", (40,)))
    return replace(column, uniques=column.uniques + (("planted_unique",),)), column


def _add_fk(t: TableSpec) -> tuple[TableSpec, TableSpec]:
    return (t.with_columns(ColumnSpec("planted_ref", "integer", references="t00000.id")),
            t.with_columns(ColumnSpec("planted_ref", "integer")))


_CHANGES: dict[str, _Change] = {
    "add_column": _add_column,
    "remove_column": _remove_column,
    "modify_type": _modify_type,
    "modify_nullable": _modify_nullable,
    "modify_default": _modify_default,
    "modify_comment": _modify_comment,
    "add_index": _add_index,
    "remove_index": _remove_index,
    "add_constraint": _add_constraint,
    "add_fk": _add_fk,
}
ADDED_TABLE = "planted_new_table"
REMOVED_TABLE = "planted_old_table"


def plants(tables: int) -> tuple[Plant, ...]:
    """The differences planted in a schema of ``tables`` tables, spread evenly over it."""
    found = [
        Plant(kind, f"t{(position + 1) * tables // (len(_CHANGES) + 1):05d}", needs_comments=kind == "modify_comment")
        for position, kind in enumerate(_CHANGES)
    ]
    found += [Plant("add_table", ADDED_TABLE), Plant("remove_table", REMOVED_TABLE)]
    return tuple(found)


def expected(tables: int, dialect: str) -> tuple[Plant, ...]:
    """The planted differences a comparison on ``dialect`` can see."""
    return tuple(p for p in plants(tables) if not (p.needs_comments and dialect == "sqlite"))


def planted(specs: Sequence[TableSpec], side: Side) -> list[TableSpec]:
    """``specs`` as one side of the comparison: the models, or the database with its planted differences."""
    by_name = {spec.name: spec for spec in specs}
    for plant in plants(len(specs)):
        if plant.table in by_name:
            models, database = _CHANGES[plant.kind](by_name[plant.table])
            by_name[plant.table] = models if side == "models" else database
    # Different columns, so that neither looks like the other renamed.
    if side == "models":
        by_name[ADDED_TABLE] = TableSpec(ADDED_TABLE, (ColumnSpec("id", "integer", nullable=False, primary_key=True),
                                                       ColumnSpec("name", "varchar", (50,))))
    else:
        by_name[REMOVED_TABLE] = TableSpec(REMOVED_TABLE, (ColumnSpec("code", "varchar", (20,), nullable=False,
                                                                      primary_key=True),
                                                           ColumnSpec("archived_at", "timestamp")))
    return list(by_name.values())


# --------------------------------------------------------------------------- SQLAlchemy


def to_metadata(specs: Sequence[TableSpec]) -> sa.MetaData:
    """A MetaData holding one Table per spec, named by :data:`NAMING_CONVENTION`."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for spec in specs:
        _to_table(metadata, spec)
    return metadata


def _to_table(metadata: sa.MetaData, spec: TableSpec) -> sa.Table:
    items: list[SchemaItem] = [_to_column(c) for c in spec.columns]
    items += [sa.UniqueConstraint(*columns) for columns in spec.uniques]
    items += [sa.CheckConstraint(sql, name=name) for name, sql in spec.checks]
    table = sa.Table(spec.name, metadata, *items, comment=spec.comment)
    for index in spec.indexes:
        sa.Index(None, *(table.c[name] for name in index.columns), unique=index.unique)
    return table


def _to_column(spec: ColumnSpec) -> sa.Column[Any]:
    args: list[SchemaItem] = []
    if spec.references:
        args.append(sa.ForeignKey(spec.references, ondelete=spec.ondelete))
    return sa.Column(
        spec.name,
        TYPES[spec.kind](spec),
        *args,
        primary_key=spec.primary_key,
        nullable=spec.nullable,
        server_default=sa.text(spec.default) if spec.default is not None else None,
        comment=spec.comment,
    )


def build_metadata(tables: int, seed: int = 0, side: Side = "models") -> sa.MetaData:
    """The MetaData of a generated schema of ``tables`` tables (plus one planted table)."""
    return to_metadata(planted(generate(tables, seed), side))
