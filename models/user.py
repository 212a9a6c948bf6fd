"""Accounts that sign in to the application."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class UserORM(Base):
    __tablename__ = "users"

    # A UUID in its 36-character text form: portable, unlike a native UUID type.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # The one column no migration creates yet: the models are a step ahead of
    # head, so autogenerate has exactly one difference to report.
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # default= covers rows the ORM inserts, server_default= rows inserted by
    # anything else (SQL scripts, other services). The default is spelled '1',
    # not sa.true(): every dialect accepts '1' for true, and MariaDB, whose
    # BOOL is TINYINT(1), reports it back as '1', so autogenerate compares it
    # equal; sa.true() renders as `true` there and would always read as changed.
    enabled: Mapped[bool] = mapped_column(default=True, server_default="1", nullable=False)
    role: Mapped[str] = mapped_column(String(32), default="user", server_default="user", nullable=False)
