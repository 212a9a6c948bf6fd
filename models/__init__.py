"""The example application's models: ``import models`` registers every table on ``Base.metadata``."""

from __future__ import annotations

from .base import Base, NAMING_CONVENTION
from .project import ProjectORM, ProjectStatus
from .task import TaskORM
from .user import UserORM

__all__ = ["Base", "NAMING_CONVENTION", "ProjectORM", "ProjectStatus", "TaskORM", "UserORM"]
