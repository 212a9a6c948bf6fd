"""Initial schema: users, projects, tasks.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-06 09:00:00.000000

"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001_initial"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Every name below is spelled out with op.f() exactly as models.base's naming
# convention produces it, so a later migration can refer to it on every
# dialect and autogenerate matches it with the model's.


def upgrade() -> None:
    # users.email is deliberately absent: the models are one step ahead of
    # the migrations (see models/user.py).
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("role", sa.String(length=32), server_default="user", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    # Creating the table creates the project_status type on PostgreSQL too.
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "archived", name="project_status", native_enum=True),
            server_default="active",
            nullable=False,
            comment="active projects are listed; archived ones are read-only",
        ),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_projects_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_projects_owner_id_name")),
        comment="Work the users organise their tasks in",
    )
    op.create_index(op.f("ix_projects_status"), "projects", ["status"], unique=False)
    # tasks.due_date arrives in 0002_task_due_date.
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="3", nullable=False),
        sa.Column("done", sa.Boolean(), server_default="0", nullable=False),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_tasks_priority_range")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tasks_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_project_id_done"), "tasks", ["project_id", "done"], unique=False)


def downgrade() -> None:
    # The indexes go with their tables. Dropping ix_tasks_project_id_done on
    # its own fails on MariaDB, where it is the index backing the project_id
    # foreign key.
    op.drop_table("tasks")
    op.drop_table("projects")
    op.drop_table("users")
    # Dropping the table leaves PostgreSQL's enum type behind; elsewhere the
    # enum lived in the column and this does nothing.
    sa.Enum(name="project_status").drop(op.get_bind(), checkfirst=True)
