"""The declarative base every model of the example application shares.

The naming convention gives every index and constraint the same name on
SQLite, PostgreSQL and MariaDB. Without it each database invents its own
names, autogenerate cannot match constraints by name, and a migration that
drops or alters one has to guess what the database called it.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# column_0_N_name rather than column_0_name: a composite index or unique
# constraint is then named after all of its columns, so two of them that
# share a leading column cannot collide.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
