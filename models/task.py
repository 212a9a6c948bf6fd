"""Tasks inside a project."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

if TYPE_CHECKING:
    from .project import ProjectORM


class TaskORM(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        # The project's task list filters on done: one index serves both.
        Index(None, "project_id", "done"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=3, server_default="3", nullable=False)
    # '0' rather than sa.false() for the reason given at UserORM.enabled.
    done: Mapped[bool] = mapped_column(default=False, server_default="0", nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    # Many-to-one only, for the same reason as ProjectORM.owner.
    project: Mapped[ProjectORM] = relationship()
