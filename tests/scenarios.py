"""Throwaway drift projects for tests: config.ini, a models module, an Alembic folder.

A project is what a user has: a folder with ``config.ini`` (``[drift]`` plus
one environment, ``[t]`` by default), a models module, and ``alembic.ini``
whose ``script_location`` holds an empty ``versions/`` folder. Every models
module gets a name of its own (``tm_<hex>``), and :func:`isolated_imports`
takes it (and the folder on ``sys.path``) away again, so no test sees the
models of another.

Databases are described by model source too: :func:`metadata_from_source`
runs a source in a fresh namespace and returns its ``metadata``, which
``create_all`` turns into the database that the models module then differs from.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

import drift
from drift.findings import Report

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_ALEMBIC_INI = REPO / "alembic.ini"

#: Imports every test models source may use without importing them itself.
PRELUDE = """\
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    CheckConstraint, Column, ForeignKey, ForeignKeyConstraint, Index, Integer, MetaData,
    String, Table, Text, UniqueConstraint,
)
"""

MINIMAL_ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
path_separator = os
"""


@dataclass(frozen=True)
class Project:
    """One project folder; :meth:`check` runs ``drift.check`` on its environment."""

    root: Path
    module: str
    env: str = "t"

    @property
    def config_path(self) -> Path:
        return self.root / "config.ini"

    def check(self) -> Report:
        return drift.check(self.config_path, self.env)


def render_url(url: URL | str) -> str:
    """A URL as config.ini holds it: with its password, in clear."""
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def new_module_name() -> str:
    return f"tm_{secrets.token_hex(6)}"


def make_project(
    root: Path,
    url: URL | str | None,
    models: str | None = None,
    *,
    env: str = "t",
    env_lines: str = "",
    drift_lines: str = "",
    module: str | None = None,
    alembic_ini: str | None = MINIMAL_ALEMBIC_INI,
    extra_sections: str = "",
    models_ref: str | None = None,
) -> Project:
    """Write a project into ``root`` and return it.

    ``models`` is the source of the models module (it sees :data:`PRELUDE`
    and must define ``metadata``); ``None`` points the project at the example
    application's models and migrations instead. ``url=None`` leaves the
    environment's database to ``env_lines``. ``models_ref`` replaces the
    ``[drift] models = module:metadata`` the project would otherwise point at.
    """
    root.mkdir(parents=True, exist_ok=True)
    drift_section = ["[drift]"]
    if models is None:
        drift_section += ["models = models.base:Base", "model_modules = models", f"alembic_ini = {EXAMPLE_ALEMBIC_INI}"]
        module = "models"
    else:
        module = module or new_module_name()
        (root / f"{module}.py").write_text(PRELUDE + "\n" + textwrap.dedent(models), encoding="utf-8")
        drift_section += [
            f"models = {(models_ref or '{module}:metadata').format(module=module)}",
            f"model_modules = {module}",
            "alembic_ini = alembic.ini",
        ]
        if alembic_ini is not None:
            (root / "alembic.ini").write_text(alembic_ini, encoding="utf-8")
            (root / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
    if drift_lines:
        drift_section.append(textwrap.dedent(drift_lines).strip())
    env_section = [f"[{env}]"]
    if url is not None:
        env_section.append(f"url = {render_url(url)}")
    if env_lines:
        env_section.append(textwrap.dedent(env_lines).strip())
    text = "\n".join(drift_section) + "\n\n" + "\n".join(env_section) + "\n"
    if extra_sections:
        text += "\n" + textwrap.dedent(extra_sections).strip() + "\n"
    (root / "config.ini").write_text(text, encoding="utf-8")
    return Project(root=root, module=module, env=env)


def metadata_from_source(source: str) -> sa.MetaData:
    """The ``metadata`` a models source defines, without importing it as a module."""
    namespace: dict[str, Any] = {"__name__": new_module_name()}
    exec(compile(PRELUDE + "\n" + textwrap.dedent(source), "<models>", "exec"), namespace)
    metadata = namespace["metadata"]
    assert isinstance(metadata, sa.MetaData)
    return metadata


@contextlib.contextmanager
def engine_for(url: URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def build(url: URL, source: str | sa.MetaData, *ddl: str) -> None:
    """Create the tables of ``source`` in the database, then run ``ddl`` there."""
    metadata = metadata_from_source(source) if isinstance(source, str) else source
    with engine_for(url) as engine, engine.begin() as conn:
        metadata.create_all(conn)
        for statement in ddl:
            conn.exec_driver_sql(statement)


def execute(url: URL, *statements: str) -> None:
    with engine_for(url) as engine, engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


@contextlib.contextmanager
def isolated_imports() -> Iterator[None]:
    """Undo every import and ``sys.path`` entry a check makes, except the example app's ``models``."""
    path = list(sys.path)
    modules = set(sys.modules)
    try:
        yield
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if name.startswith("tm_"):
                del sys.modules[name]


@contextlib.contextmanager
def logging_kept() -> Iterator[None]:
    """The root logger's level and handlers as they were before the block (the CLI sets its own)."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        yield
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


def summary(report: Report) -> list[tuple[str, str, str | None]]:
    """``(kind, table, name)`` of each finding, in report order."""
    return [(f.kind, f.table, f.name) for f in report.findings]


def use_example_models() -> None:
    """Make the example application's ``models`` package importable (undone by :func:`isolated_imports`)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def upgrade_example(project: Project, revision: str = "head") -> None:
    """``alembic -x env=<env> -x config=<project's config.ini> upgrade <revision>`` with the example migrations.

    The alembic Config is built without a file so that alembic.ini's logging
    setup does not replace the test run's.
    """
    use_example_models()
    config = AlembicConfig()
    config.set_main_option("script_location", str(REPO / "alembic"))
    config.cmd_opts = argparse.Namespace(x=[f"env={project.env}", f"config={project.config_path}"])
    command.upgrade(config, revision)


def empty(url: URL) -> None:
    """Drop everything in a database made by ``dbs.temp_database``, so the next test can reuse it."""
    with engine_for(url) as engine, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Enum types and sequences go with the schema too.
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        elif conn.dialect.name in ("mysql", "mariadb"):
            tables = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            ).scalars().all()
            if tables:
                conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
                conn.exec_driver_sql("DROP TABLE " + ", ".join(f"`{t}`" for t in tables))
                conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")
        else:
            metadata = sa.MetaData()
            metadata.reflect(conn)
            metadata.drop_all(conn)
