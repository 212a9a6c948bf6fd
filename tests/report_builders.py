"""Reports built by hand, for renderer tests: no database, no models, same bytes every run.

``drift_report()`` has findings of most kinds across three tables, a
suggested migration and a migration state that is behind; ``clean_report()``
has none; ``hostile_report()`` puts HTML, Markdown, control and bidi
characters everywhere a name or comment can go; ``risk_report()`` carries
risks (measured, not measured, with a backfill, with hostile example values);
``policy_report()`` has findings ignored, accepted, back after an expired
acceptance, and an acceptance matching nothing. ``generated_at`` is pinned.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from drift.findings import DatabaseInfo, Finding, Report, Risk, SuggestedMigration
from drift.history import MigrationState, Revision
from drift.policy import Acceptance, IgnoreRule, PolicyResult, apply_policy

GENERATED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
PG = DatabaseInfo(
    url="postgresql+psycopg://app:***@db.example:5432/app",
    dialect="postgresql",
    driver="psycopg",
    server_version="PostgreSQL 16.4",
    database="app",
)
PREFIX = "alembic -x env=prod"


def column(type_: str, nullable: bool = True, default: str | None = None, comment: str | None = None,
           primary_key: bool = False) -> dict[str, Any]:
    return {"type": type_, "nullable": nullable, "default": default, "comment": comment, "primary_key": primary_key}


def finding(kind: str, table: str, message: str, **kwargs: Any) -> Finding:
    return Finding(kind=kind, table=table, message=message, **kwargs)


def report(findings: list[Finding], *, migration: SuggestedMigration | None = None, state: Any = None,
           database: DatabaseInfo = PG, environment: str = "prod", revision: tuple[str, ...] = ("0002_task_due_date",),
           tables_compared: int = 5, notes: tuple[str, ...] = (), policy: PolicyResult | None = None) -> Report:
    return Report(
        environment=environment,
        database=database,
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        tables_compared=tables_compared,
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        revision=revision,
        migration=migration,
        state=state,
        notes=notes,
        policy=policy,
    )


def state_behind(env: str = "prod") -> MigrationState:
    return MigrationState(
        status="behind",
        current=("0002_task_due_date",),
        heads=("0003_project_owner",),
        pending=(Revision("0003_project_owner", "Add projects.owner_id", "2025-03-01 10:00:00", ("0002_task_due_date",)),),
        unknown=(),
        summary="The database is 1 revision behind head (0003_project_owner).",
        commands=(f"alembic -x env={env} current", f"alembic -x env={env} history -r current:head",
                  f"alembic -x env={env} upgrade head"),
    )


def state_at_head(env: str = "prod") -> MigrationState:
    return MigrationState(
        status="up_to_date", current=("0002_task_due_date",), heads=("0002_task_due_date",), pending=(), unknown=(),
        summary="The database is at head (0002_task_due_date).", commands=(f"alembic -x env={env} current",),
    )


UPGRADE = """\
op.add_column('users', sa.Column('email', sa.String(length=255), nullable=True))
op.alter_column('tasks', 'title',
               existing_type=sa.VARCHAR(length=100),
               type_=sa.String(length=200),
               existing_nullable=False)
op.create_index('ix_tasks_due_date', 'tasks', ['due_date'], unique=False)
op.drop_column('projects', 'legacy_code')"""

DOWNGRADE = """\
op.add_column('projects', sa.Column('legacy_code', sa.VARCHAR(length=20), autoincrement=False, nullable=True))
op.drop_index('ix_tasks_due_date', table_name='tasks')
op.alter_column('tasks', 'title',
               existing_type=sa.String(length=200),
               type_=sa.VARCHAR(length=100),
               existing_nullable=False)
op.drop_column('users', 'email')"""


def drift_findings() -> list[Finding]:
    return [
        finding("add_column", "users", "Column users.email exists in the models but not in the database",
                name="email", object_type="column", models=column("VARCHAR(255)"), severity="info",
                cause="missing_migration", cause_detail="No revision up to head adds users.email."),
        finding("modify_nullable", "users", "Column users.full_name is nullable in the database but NOT NULL in the models",
                name="full_name", object_type="column", models={"nullable": False}, database={"nullable": True},
                severity="warning"),
        finding("modify_type", "tasks", "Column tasks.title is VARCHAR(100) in the database but VARCHAR(200) in the models",
                name="title", object_type="column", models={"type": "VARCHAR(200)"},
                database={"type": "VARCHAR(100)"}, severity="warning"),
        finding("modify_default", "tasks", "Column tasks.status has server default 'open' in the database but 'todo' in the models",
                name="status", object_type="column", models={"default": "'todo'"}, database={"default": "'open'"}),
        finding("add_index", "tasks", "Index ix_tasks_due_date on tasks (due_date) exists in the models but not in the database",
                name="ix_tasks_due_date", object_type="index", models={"columns": ["due_date"], "unique": False}),
        finding("add_fk", "tasks", "Foreign key fk_tasks_project_id_projects on tasks (project_id) referencing projects "
                "exists in the models but not in the database",
                name="fk_tasks_project_id_projects", object_type="foreign_key",
                models={"type": "foreignkey", "columns": ["project_id"], "references": "projects",
                        "referred_columns": ["id"], "ondelete": "CASCADE"}, severity="warning"),
        finding("remove_column", "projects", "Column projects.legacy_code exists in the database but not in the models",
                name="legacy_code", object_type="column", database=column("VARCHAR(20)", comment="old ERP key"),
                severity="danger", cause="out_of_band"),
        finding("add_table", "audit_log", "Table audit_log exists in the models but not in the database",
                object_type="table",
                models={"columns": {"id": column("INTEGER", nullable=False, primary_key=True),
                                    "at": column("TIMESTAMP", nullable=False, default="now()"),
                                    "event": column("TEXT")},
                        "comment": "Who changed what, when."}),
    ]


def drift_migration() -> SuggestedMigration:
    return SuggestedMigration(
        message="Sync audit_log, projects, tasks, users with the models",
        commands=(
            f'{PREFIX} revision --autogenerate -m "Sync audit_log, projects, tasks, users with the models"',
            "# review the new file in alembic/versions/ (see the notes below), then:",
            f"{PREFIX} upgrade head",
        ),
        upgrade_code=UPGRADE,
        downgrade_code=DOWNGRADE,
        review_notes=(
            "users.full_name becomes NOT NULL: existing rows with NULL make the migration fail; backfill first in the "
            "same migration, e.g. op.execute(\"UPDATE users SET full_name = ... WHERE full_name IS NULL\").",
            "tasks.title changes type: check the USING clause / data conversion, and for enums the type's own "
            "CREATE/ALTER TYPE, which autogenerate does not write.",
        ),
    )


def drift_report() -> Report:
    return report(drift_findings(), migration=drift_migration(), state=state_behind())


def clean_report() -> Report:
    return report([], state=state_at_head(), tables_compared=3)


# Names a database can really hold (PostgreSQL quoted identifiers take anything but NUL).
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"
PIPES = "a|b||c"
TICKS = "x`y``z"
NEWLINE = "line1\nline2\r\n# heading"
RTL = "users\u202egpj.exe"
ZERO_WIDTH = "em\u200bail\u200d"
UNICODE = "naïve_表_😀"
ANSI = "\x1b[2Jcleared"


def hostile_findings() -> list[Finding]:
    return [
        finding("add_table", SCRIPT, f"Table {SCRIPT} exists in the models but not in the database", object_type="table",
                models={"columns": {IMG: column("TEXT", comment="**bold** | [x](javascript:alert(1))")}, "comment": None},
                severity="danger"),
        finding("add_column", PIPES, f"Column {PIPES}.{TICKS} exists in the models but not in the database",
                name=TICKS, object_type="column",
                models=column("VARCHAR(10)", default="'|`'", comment="first line\nsecond | line\n```\n<b>not bold</b>")),
        finding("modify_comment", RTL, f"Column {RTL}.{ZERO_WIDTH} has comment 'a' in the database but 'b' in the models",
                name=ZERO_WIDTH, object_type="column", models={"comment": f"{NEWLINE} & &amp; <!-- -->"},
                database={"comment": "| --- |"}, cause="out_of_band", cause_detail=f"changed by {IMG}"),
        finding("add_index", UNICODE, f"Index {NEWLINE} on {UNICODE} ({ANSI}) exists in the models but not in the database",
                name=NEWLINE, object_type="index", models={"columns": [ANSI, PIPES], "unique": True}, severity="warning"),
        finding("remove_constraint", UNICODE, f"Check constraint {IMG} on {UNICODE} exists in the database but not in the models",
                name=IMG, object_type="check_constraint", database={"type": "check", "sqltext": "a <> 'b' AND c|d"},
                severity="warning"),
    ]


def hostile_report() -> Report:
    findings = hostile_findings()
    return report(
        findings,
        environment="prod<b>&amp;`|",
        database=DatabaseInfo(url="postgresql+psycopg://app:***@db.example:5432/<app>", dialect="postgresql",
                              driver="psycopg", server_version="PostgreSQL 16.4 <i>patched</i> | `x`", database="<app>"),
        revision=(SCRIPT,),
        migration=SuggestedMigration(
            message=f"Sync {TICKS}",
            commands=(f'{PREFIX} revision --autogenerate -m "Add \\`x\\` {SCRIPT}"', f"{PREFIX} upgrade head"),
            upgrade_code=f"op.add_column({PIPES!r}, sa.Column({TICKS!r}, sa.String(10)))\n# ```\n# {SCRIPT}",
            downgrade_code=f"op.drop_column({PIPES!r}, {TICKS!r})",
            review_notes=(f"{IMG} | note with `ticks` and *stars*",),
        ),
        state=MigrationState(
            status="unknown_revision", current=(SCRIPT,), heads=("0002",), pending=(), unknown=(SCRIPT,),
            summary=f"The database is at revision {SCRIPT}, which no migration script defines.",
            commands=(f"{PREFIX} stamp 0002",), warnings=(f"stamp changes only the version table {IMG}",),
        ),
        notes=(f"note {IMG}",),
    )


def many_findings_report(n: int) -> Report:
    """``n`` added columns over 10 tables, every 7th a danger: for the Markdown size cap."""
    findings = []
    for i in range(n):
        table = f"table_{i % 10:02d}"
        if i % 7 == 0:
            findings.append(finding("remove_column", table, f"Column {table}.old_{i:04d} exists in the database but not in the models",
                                    name=f"old_{i:04d}", object_type="column", database=column("TEXT"), severity="danger"))
        else:
            findings.append(finding("add_column", table, f"Column {table}.col_{i:04d} exists in the models but not in the database",
                                    name=f"col_{i:04d}", object_type="column", models=column("VARCHAR(255)", nullable=False)))
    migration = SuggestedMigration(
        message="Sync 10 tables with the models",
        commands=(f'{PREFIX} revision --autogenerate -m "Sync 10 tables with the models"', f"{PREFIX} upgrade head"),
        upgrade_code="\n".join(f"op.add_column('t', sa.Column('c{i}', sa.String(255)))" for i in range(n)),
        downgrade_code="\n".join(f"op.drop_column('t', 'c{i}')" for i in range(n)),
    )
    return report(findings, migration=migration, state=state_at_head(), tables_compared=10)


def example_report() -> Report:
    """What ``drift check --env dev`` says about the example project: users.email missing, SQLite batch mode."""
    upgrade = ("with op.batch_alter_table('users', schema=None) as batch_op:\n"
               "    batch_op.add_column(sa.Column('email', sa.String(length=255), nullable=True))")
    downgrade = ("with op.batch_alter_table('users', schema=None) as batch_op:\n"
                 "    batch_op.drop_column('email')")
    email = finding("add_column", "users", "Column users.email exists in the models but not in the database",
                    name="email", object_type="column", models=column("VARCHAR(255)"),
                    upgrade_code=upgrade, downgrade_code=downgrade)
    migration = SuggestedMigration(
        message="Add email column to users table",
        commands=('alembic -x env=dev revision --autogenerate -m "Add email column to users table"',
                  "# review the new file in alembic/versions/ (see the notes below), then:",
                  "alembic -x env=dev upgrade head"),
        upgrade_code=upgrade,
        downgrade_code=downgrade,
    )
    sqlite = DatabaseInfo(url="sqlite+pysqlite:///dev.db", dialect="sqlite", driver="pysqlite",
                          server_version="SQLite 3.40.1", database="dev.db")
    return report([email], migration=migration, state=state_at_head("dev"), database=sqlite, environment="dev",
                  tables_compared=3)


# --------------------------------------------------------------------------- risks


BACKFILL = 'op.execute("UPDATE users SET full_name = \'\' WHERE full_name IS NULL")'
# An example value a database really returns for a duplicate key: markup, a table pipe, backticks.
DUPLICATE = f"{SCRIPT} | `x` **y**"


def risk_findings() -> list[Finding]:
    return [
        finding("modify_nullable", "users", "Column users.full_name is nullable in the database but NOT NULL in the models",
                name="full_name", object_type="column", models={"nullable": False}, database={"nullable": True},
                severity="danger", risks=(
                    Risk(rule="null_rows", severity="danger",
                         summary="2 rows of users have NULL in full_name: the ALTER fails",
                         evidence={"null_rows": 2, "backfill_value": "''", "backfill_from": "the type's empty value"},
                         suggestion="backfill them first, in the same migration, before the alter_column "
                                    "(the type's empty value)",
                         code=BACKFILL),
                )),
        finding("add_constraint", "users", "Unique constraint uq_users_email on users (email) exists in the models "
                "but not in the database", name="uq_users_email", object_type="unique_constraint",
                models={"type": "unique", "columns": ["email"]}, severity="danger", risks=(
                    Risk(rule="duplicates", severity="danger",
                         summary=f"1 value of (email) repeats in users (1,250 rows): creating the unique constraint "
                                 f"fails; e.g. email={DUPLICATE!r} appears 4 times",
                         evidence={"duplicate_groups": 1, "rows": 1250, "example": {"email": DUPLICATE},
                                   "example_count": 4},
                         suggestion="remove or merge the duplicates first (in a data migration), or widen the key"),
                    Risk(rule="lock", severity="info",
                         summary="building the unique index on users (1,250 rows) blocks writes only briefly",
                         evidence={"rows": 1250, "rows_from": "pg_class.reltuples"}),
                )),
        finding("modify_type", "tasks", "Column tasks.title is VARCHAR(200) in the database but VARCHAR(100) in the models",
                name="title", object_type="column", models={"type": "VARCHAR(100)"},
                database={"type": "VARCHAR(200)"}, severity="warning", risks=(
                    Risk(rule="narrowing", severity="warning",
                         summary="values of tasks.title that do not fit VARCHAR(100): not measured: the table has "
                                 "~2,000,000 rows (pg_class.reltuples), above risk_large_table (1,000,000); "
                                 "rerun with --deep to scan it",
                         evidence={"reason": "the table has ~2,000,000 rows (pg_class.reltuples), above "
                                             "risk_large_table (1,000,000); rerun with --deep to scan it"},
                         measured=False),
                )),
        finding("remove_column", "projects", "Column projects.legacy_code exists in the database but not in the models",
                name="legacy_code", object_type="column", database=column("VARCHAR(20)"), severity="danger",
                cause="out_of_band", risks=(
                    Risk(rule="data_loss", severity="info",
                         summary="dropping projects.legacy_code loses no values: every row has NULL in it",
                         evidence={"rows": 40, "non_null_values": 0}),
                )),
    ]


def risk_report() -> Report:
    migration = SuggestedMigration(
        message="Sync projects, tasks, users with the models",
        commands=(f'{PREFIX} revision --autogenerate -m "Sync projects, tasks, users with the models"',
                  "# review the new file in alembic/versions/ (see the notes below), then:",
                  f"{PREFIX} upgrade head"),
        upgrade_code="op.alter_column('users', 'full_name', existing_type=sa.TEXT(), nullable=False)\n"
                     "op.create_unique_constraint('uq_users_email', 'users', ['email'])\n"
                     "op.alter_column('tasks', 'title', existing_type=sa.VARCHAR(length=200), "
                     "type_=sa.String(length=100))\n"
                     "op.drop_column('projects', 'legacy_code')",
        downgrade_code="op.add_column('projects', sa.Column('legacy_code', sa.VARCHAR(length=20), nullable=True))\n"
                       "op.alter_column('tasks', 'title', existing_type=sa.String(length=100), "
                       "type_=sa.VARCHAR(length=200))\n"
                       "op.drop_constraint('uq_users_email', 'users', type_='unique')\n"
                       "op.alter_column('users', 'full_name', existing_type=sa.TEXT(), nullable=True)",
    )
    return report(risk_findings(), migration=migration, state=state_at_head())


# --------------------------------------------------------------------------- ignored and accepted drift

TODAY = date(2025, 3, 4)
AUDIT_RULE = IgnoreRule.parse("audit_*", "tables written by the audit trigger, not by the models")


def policy_findings() -> dict[str, Finding]:
    return {
        "ignored": finding("add_table", "audit_log", "Table audit_log exists in the models but not in the database",
                           object_type="table", models={"columns": {"id": column("INTEGER", nullable=False)}}),
        "accepted": finding("add_column", "users", "Column users.nickname exists in the models but not in the database",
                            name="nickname", object_type="column", models=column("VARCHAR(40)")),
        "expired": finding("modify_type", "tasks", "Column tasks.title is VARCHAR(200) in the database but "
                           "VARCHAR(100) in the models", name="title", object_type="column",
                           models={"type": "VARCHAR(100)"}, database={"type": "VARCHAR(200)"}, severity="warning"),
        "kept": finding("add_column", "users", "Column users.email exists in the models but not in the database",
                        name="email", object_type="column", models=column("VARCHAR(255)")),
        # Fixed since it was accepted: the check no longer reports it.
        "gone": finding("modify_default", "tasks", "Column tasks.status has server default 'open' in the database "
                        "but 'todo' in the models", name="status", object_type="column",
                        models={"default": "'todo'"}, database={"default": "'open'"}),
    }


def policy_entries(found: dict[str, Finding]) -> list[Acceptance]:
    return [
        Acceptance.for_finding(found["accepted"], environment="prod", reason="ships with the profile page, OPS-12",
                               owner="alice", accepted_on=date(2025, 2, 1), expires=date(2025, 5, 1)),
        Acceptance.for_finding(found["expired"], environment="prod", reason="widened by the DBA | *to be migrated*",
                               owner="bob", accepted_on=date(2024, 12, 1), expires=date(2025, 3, 1)),
        Acceptance.for_finding(found["gone"], environment="*", reason="default changes with the next release",
                               owner="carol", accepted_on=date(2025, 1, 15), expires=date(2025, 4, 30)),
    ]


def policy_report() -> Report:
    """What a check of prod reports with one ignore rule and three acceptances (one expired, one stale)."""
    found = policy_findings()
    checked = [f for key, f in found.items() if key != "gone"]
    result = apply_policy(sorted(checked, key=Finding.sort_key), [AUDIT_RULE], policy_entries(found),
                          environment="prod", today=TODAY)
    migration = result.with_review_note(SuggestedMigration(
        message="Sync tasks, users with the models",
        commands=(f'{PREFIX} revision --autogenerate -m "Sync tasks, users with the models"',
                  "# review the new file in alembic/versions/ (see the notes below), then:",
                  f"{PREFIX} upgrade head"),
        upgrade_code="op.alter_column('tasks', 'title', existing_type=sa.VARCHAR(length=200), "
                     "type_=sa.String(length=100))\n"
                     "op.add_column('users', sa.Column('email', sa.String(length=255), nullable=True))",
        downgrade_code="op.drop_column('users', 'email')\n"
                       "op.alter_column('tasks', 'title', existing_type=sa.String(length=100), "
                       "type_=sa.VARCHAR(length=200))",
    ))
    return report(list(result.kept), migration=migration, state=state_at_head(), notes=result.notes, policy=result)


def policy_clean_report() -> Report:
    """Nothing left once the rule and the acceptance have applied: a clean verdict that still counts them."""
    found = policy_findings()
    result = apply_policy([found["ignored"], found["accepted"]], [AUDIT_RULE], policy_entries(found)[:1],
                          environment="prod", today=TODAY)
    return report(list(result.kept), state=state_at_head(), notes=result.notes, policy=result)
