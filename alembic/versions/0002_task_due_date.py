"""Add tasks.due_date.

Revision ID: 0002_task_due_date
Revises: 0001_initial
Create Date: 2025-01-20 14:30:00.000000

"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_task_due_date"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("due_date", sa.Date(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35 and later has it) rather than batch
    # mode: batch mode rebuilds the table from reflection, which needs a live
    # connection, so `alembic downgrade --sql` could not write this step.
    op.drop_column("tasks", "due_date")
