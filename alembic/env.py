"""Alembic environment for the example application.

The database comes from config.ini, the same file the application and drift
read, so ``alembic -x env=prod upgrade head`` and ``drift check --env prod`` can
never disagree about which database ``prod`` is::

    alembic upgrade head                       # [dev], the SQLite file
    alembic -x env=prod upgrade head           # [prod]
    alembic -x env=prod upgrade head --sql     # offline: print the SQL
    alembic -x env=ci -x config=ci/config.ini upgrade head
"""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path

from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL, Connection

from alembic import context
from drift.config import database_url

import models  # noqa: F401  (the import registers every table on Base.metadata)
from models.base import Base

DEFAULT_ENV = "dev"

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    # Keep loggers that already exist (drift's, when it runs alembic in-process).
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _config_ini() -> Path:
    """``-x config=PATH`` if given, else the config.ini next to alembic.ini."""
    given = context.get_x_argument(as_dictionary=True).get("config")
    if given:
        return Path(given)
    if config.config_file_name is not None:
        return Path(config.config_file_name).resolve().parent / "config.ini"
    # alembic.Config built in code without a file: script_location is <root>/alembic.
    return Path(config.get_main_option("script_location", ".")).resolve().parent / "config.ini"


def _url() -> URL:
    name = context.get_x_argument(as_dictionary=True).get("env", DEFAULT_ENV)
    return database_url(name, _config_ini())


def _options(dialect_name: str) -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "compare_server_default": True,
    }


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (``--sql``): no connection needed."""
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A caller that already holds a connection (a test, or drift migrating a
    # scratch database) passes it in config.attributes instead of a section name.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
