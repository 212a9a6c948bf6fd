"""Projects, each owned by one user."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

if TYPE_CHECKING:
    from .user import UserORM


class ProjectStatus(str, enum.Enum):
    active = "active"
    archived = "archived"


def _enum_values(members: type[enum.Enum]) -> list[str]:
    return [member.value for member in members]


class ProjectORM(Base):
    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("owner_id", "name"),
        Index(None, "status"),
        {"comment": "Work the users organise their tasks in"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Deleting a user deletes their projects (and, through tasks.project_id, their tasks).
    owner_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    # A named native enum: a PostgreSQL type called project_status, an inline
    # ENUM on MariaDB, a VARCHAR on SQLite. values_callable stores the values,
    # which is what SQL written by hand would use.
    status: Mapped[ProjectStatus] = mapped_column(
        sa.Enum(ProjectStatus, name="project_status", native_enum=True, values_callable=_enum_values),
        default=ProjectStatus.active,
        server_default=ProjectStatus.active.value,
        nullable=False,
        comment="active projects are listed; archived ones are read-only",
    )
    # CURRENT_TIMESTAMP rather than now(): MariaDB reports either as
    # current_timestamp(), which then matches; now() would read as a changed default.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(), server_default=func.current_timestamp(), nullable=False
    )

    # Many-to-one only: the unit of work then inserts the owner first. The
    # database's ON DELETE CASCADE, not the ORM, removes a user's projects.
    owner: Mapped[UserORM] = relationship()
