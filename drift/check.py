"""``drift.check(config, env)``: the whole check of one environment, as data.

The flow: load config → import the models → open the Alembic project →
one read-only connection → read the recorded revision → compare (alembic)
→ suggest what to run → :class:`~drift.findings.Report`. Nothing here
prints or formats; the CLI and the renderers do that.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .causes import Attributor, SharedStore
from .compare import compare
from .comparators.partitions import available_cpus
from .comparators.progress import ProgressCallback, reporting
from .comparators.renames import annotate_renames
from .config import Config
from .errors import ConfigError
from .connect import connect, database_info
from .findings import Report
from .history import compute_state, graph_from_script_directory, read_current
from .loading import load_alembic, load_metadata
from .policy import Policy, utc_today
from .risk import RiskOptions, assess
from .suggest import suggest

log = logging.getLogger(__name__)


def check(
    config: Config | str | os.PathLike[str] | None,
    env: str,
    *,
    attribute: bool = True,
    risk: RiskOptions | None = None,
    progress: ProgressCallback | None = None,
    scratch_layers: SharedStore | None = None,
    compare_processes: int | None = None,
) -> Report:
    """Check environment ``env`` against the models; read-only, returns a :class:`Report`.

    >>> report = check("config.ini", "prod")      # doctest: +SKIP
    >>> [f.message for f in report.findings]     # doctest: +SKIP
    ['Column users.email exists in the models but not in the database']

    ``risk`` bounds the read-only data queries that measure what each
    suggested change would do to existing rows (default: config.ini's
    ``risk_*`` settings). With ``attribute`` (the default) each finding gets its cause from
    scratch builds of the project's migrations (see :mod:`drift.causes`);
    the live database is never written and is closed before they run.

    ``scratch_layers`` lets the checks of one run share the scratch schemas
    they build (:func:`drift.run.run` passes one).
    ``compare_processes`` caps the processes a large comparison may share its
    tables among (default: ``compare_processes`` in ``[drift]``).
    ``progress(stage, done, total)``, if given, is called as tables are
    reflected and compared (``stage`` ``"reflected"`` or ``"compared"``).

    Raises :class:`~drift.errors.DriftError` (a subclass naming the
    condition) when the check cannot be done.
    """
    if not isinstance(config, Config):
        config = Config.load(config)
    environment = config.environment(env)
    # A malformed rule or accepted-drift file fails here, before anything connects.
    policy = Policy.load(config)
    metadata = load_metadata(config)
    project = load_alembic(config)
    graph = graph_from_script_directory(project.script)
    # Built before connecting, so an unsafe scratch_url is refused before prod is touched.
    attributor = (
        Attributor.for_config(config, environment, project, metadata, graph, shared=scratch_layers)
        if attribute else None
    )

    risk_options = (risk or RiskOptions.from_settings(config.settings)).within(environment.statement_timeout)
    workers = compare_processes_setting(config) if compare_processes is None else max(1, compare_processes)

    log.info("checking %s at %s", environment.name, environment.masked_url)
    with connect(environment) as conn:
        info = database_info(conn, environment)
        current = read_current(conn, project.version_table, project.version_table_schema)
        with reporting(progress):
            comparison = compare(
                conn, metadata, version_table=project.version_table, version_table_schema=project.version_table_schema,
                workers=workers,
            )
        # End the comparison's transaction: each risk query runs in a short one of its own, and
        # MariaDB then drops the metadata locks a query took at once instead of at disconnect.
        conn.rollback()
        # Ignored and accepted findings cost no data queries: an ignored audit table may be the largest there is.
        applied = policy.apply(comparison.findings, env, today=utc_today())
        assessed = assess(conn, applied.kept, metadata=metadata, options=risk_options)
    log.info("%s: %d differences in %d tables", environment.name, len(comparison.findings), comparison.tables_compared)

    prefix = config.alembic_command.format(env=env)
    state = compute_state(graph, current, command_prefix=config.alembic_command, env=env)
    findings, notes = assessed, ()
    if attributor is not None:
        attribution = attributor.attribute(environment, findings, state, command_prefix=prefix)
        findings, notes = attribution.findings, attribution.notes
    # After attribution: a guess pairs two findings and takes their cause; it is no layer's difference.
    findings = annotate_renames(findings, dialect=info.dialect)
    upgrade_code, downgrade_code = applied.migration_code(findings, comparison.upgrade_code, comparison.downgrade_code)
    migration = applied.with_review_note(suggest(
        findings,
        command_prefix=prefix,
        state=state,
        upgrade_code=upgrade_code,
        downgrade_code=downgrade_code,
        scripts_dir=_scripts_dir(project.script.dir, config.root),
    ))
    return Report(
        environment=env,
        database=info,
        findings=findings,
        tables_compared=comparison.tables_compared,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0),
        tool_version=__version__,
        revision=tuple(current or ()),
        migration=migration,
        state=state,
        notes=(*notes, *applied.notes),
        policy=applied if applied.active else None,
    )


def compare_processes_setting(config: Config) -> int:
    """``compare_processes`` in ``[drift]``: how many processes a large comparison may use (``auto``: a CPU each)."""
    value = (config.settings.get("compare_processes") or "auto").strip().lower()
    if value == "auto":
        return available_cpus()
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"[drift] compare_processes must be auto or a whole number of at least 1, not {value!r}")
    return count


def _scripts_dir(directory: str, root: Path) -> str:
    versions = Path(directory) / "versions"
    try:
        return versions.relative_to(root).as_posix()
    except ValueError:
        return versions.as_posix()
