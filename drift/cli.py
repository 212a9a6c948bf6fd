"""The ``drift`` command: parse options, call the core once, render, exit.

Exit statuses are an API: 0 no drift, 1 drift found, 2 could not check
(click's own usage errors are 2 as well). Errors are one line on stderr;
``--debug`` adds the traceback. Progress and logs go to stderr so stdout
stays clean for ``--format json``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import click

from . import __version__, archive, secrets
from .check import check as run_check
from .config import Config
from .errors import CheckTimeoutError, DriftError, ReportWriteError
from .findings import Report
from .run import EnvironmentResult, RunResult, environment_names
from .run import run as run_environments
from .policy import DEFAULT_ACCEPT_DAYS, accept, default_expiry, utc_today
from .risk import DEFAULT_FAIL_ON, FAIL_ON, RiskOptions, fail_threshold
from .report import EXTENSIONS, FORMATS, options_from_settings, render, write_atomic
from .report.render import render_diff, render_run, render_ticket, ticket_max_chars
from .signals import terminate_raises

EXIT_OK, EXIT_DRIFT, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
STREAM_FORMATS = ("text", "json")

log = logging.getLogger("drift")


def _setup_logging(debug: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(secrets.MaskingFormatter("drift: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)


def _print_traceback() -> None:
    click.echo(secrets.mask(traceback.format_exc()), err=True, nl=False)


def _fail(message: str) -> None:
    click.echo(f"drift: error: {secrets.mask(message)}", err=True)


def guarded(fn: Callable[..., int]) -> Callable[..., None]:
    """Run a command body and exit with its status; the core's exceptions become one line and status 2."""

    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> None:
        debug = _debug(ctx)
        try:
            # SIGTERM (a scheduler's stop) is Ctrl-C for the whole command, not only inside a run's threads
            # or a scratch database: every cleanup runs, and the status is 130 instead of a silent kill.
            with terminate_raises():
                code = fn(ctx, *args, **kwargs)
        except click.ClickException:
            raise  # a usage error: click prints it with the usage line, status 2
        except DriftError as exc:
            if debug:
                _print_traceback()
            _fail(exc.message)
            code = EXIT_ERROR
        except KeyboardInterrupt:
            _fail("interrupted; no report was written or changed")
            code = EXIT_INTERRUPTED
        except Exception as exc:  # a bug or an unforeseen driver error: still one line, still masked
            if debug:
                _print_traceback()
            _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            code = EXIT_ERROR
        ctx.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="drift", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (secrets stay masked).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find where a live database has drifted from its SQLAlchemy models.

    \b
    Example:
      drift check --env prod
      drift check --env prod --format json --output -

    Exit status: 0 no drift, 1 drift found, 2 could not check.
    """
    ctx.ensure_object(dict)


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug") or ctx.find_root().params.get("debug"))


def _debug_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (secrets stay masked).")(fn)


def _config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="DRIFT_CONFIG",
        help="config.ini to read (default: ./config.ini, or $DRIFT_CONFIG).",
    )(fn)


@cli.command("check")
@click.option(
    "--env", "env_names", multiple=True, metavar="NAME",
    help="Environment (a section of config.ini); repeat to check several in one run.",
)
@click.option("--all", "all_envs", is_flag=True, help="Check every environment in config.ini in one run.")
@_config_option
@click.option(
    "--format",
    "formats",
    type=click.Choice(sorted(FORMATS)),
    multiple=True,
    help="Output format; repeat to write several (default: text).",
)
@click.option(
    "--output",
    "output",
    metavar="PATH",
    help="A file, a directory (report_dir by default for html/markdown), or - for stdout.",
)
@click.option(
    "--history",
    is_flag=True,
    help="Keep history in the report folder: JSON and latest copies, findings marked new, still open or resolved "
         "(always on when several environments are written to a folder).",
)
@click.option(
    "--keep", type=click.IntRange(min=1), metavar="N",
    help="Keep the newest N report sets of this run in the folder, delete older ones (implies --history).",
)
@click.option(
    "--ticket", "ticket_path", type=click.Path(dir_okay=False), metavar="PATH",
    help="Also write a short Markdown summary for a ticket body, linking the full HTML report.",
)
@click.option(
    "--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
    help="Stop waiting after this long: environments not finished are reported as timed out (status 2).",
)
@click.option(
    "--progress/--no-progress", default=None,
    help="Progress on stderr: tables reflected and compared in a check of one environment, a line as each "
         "environment starts and finishes for several (default: on a terminal).",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON, case_sensitive=False),
    default=DEFAULT_FAIL_ON,
    show_default=True,
    help="Lowest severity that makes the exit status 1; 'never' leaves only 2 (could not check).",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Also scan tables above risk_max_rows (default 1,000,000 rows); each query may use the whole statement_timeout.",
)
@click.option(
    "--data-checks/--no-data-checks",
    default=True,
    show_default=True,
    help="Read rows to measure each change's risk; --no-data-checks reads only the catalog.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (the exit status still tells).")
@_debug_option
@click.pass_context
@guarded
def check_command(
    ctx: click.Context,
    env_names: Sequence[str],
    all_envs: bool,
    config_path: str | None,
    formats: Sequence[str],
    output: str | None,
    history: bool,
    keep: int | None,
    ticket_path: str | None,
    time_limit: float | None,
    progress: bool | None,
    fail_on: str,
    deep: bool,
    data_checks: bool,
    quiet: bool,
    debug: bool,
) -> int:
    """Compare the models with the database of one or more environments.

    \b
    Examples:
      drift check --env prod
      drift check --env prod --format json --output -
      drift check --env dev --format html --format markdown   # written to reports/
      drift check --env prod --fail-on danger   # nightly: only a dangerous change fails
      drift check --all --format html --format markdown --output reports/ --keep 30 --ticket ticket.md

    Several environments (--env twice or more, or --all) are checked at the
    same time and make one report, with a section per environment and, for
    dev and prod, how prod differs from dev. Written to a folder, such a run
    keeps history (see --history).

    Exit status: 0 no drift (or none at --fail-on's level), 1 drift found,
    2 could not check (any environment, for several).
    """
    _setup_logging(_debug(ctx), quiet)
    if all_envs and env_names:
        raise click.UsageError("give --env NAME (repeat it for several) or --all, not both")
    if not all_envs and not env_names:
        raise click.UsageError("Missing option '--env' (give --env NAME, repeat it for several, or --all).")
    config = Config.load(config_path)
    names = None if all_envs else tuple(dict.fromkeys(env_names))
    chosen = environment_names(config, names)
    several = names is None or len(chosen) > 1
    fail = fail_on.lower()
    risk = RiskOptions.from_settings(config.settings, deep=deep, data_checks=data_checks)
    show = _progress(progress, quiet, several)
    history = history or keep is not None

    if not several and not history and ticket_path is None and time_limit is None and show is None:
        # One environment, nothing scheduled about it: the one-environment report, exactly as always.
        formats = tuple(dict.fromkeys(formats or ("text",)))
        targets = _targets(config, chosen[0], formats, output)
        options = options_from_settings(config.settings)
        with _table_progress(chosen[0], progress, quiet) as follow:
            report = run_check(config, chosen[0], risk=risk, progress=follow)
        _emit(report, targets, quiet, options)
        return EXIT_DRIFT if fail_threshold(report.findings, fail) else EXIT_OK

    plan = _plan(config, "all" if names is None else "+".join(chosen), formats, output,
                 history=history, several=several)
    if several:
        result = run_environments(
            config, names, time_limit=time_limit, on_progress=show, check_options={"risk": risk}
        )
    else:
        result = _run_one(config, chosen[0], time_limit, show, risk, progress=progress, quiet=quiet)
    if plan.directory is not None and plan.history:
        result = archive.mark_run(result, plan.directory, exclude=[p for _, p in plan.targets])
    _publish(config, result, plan, several=several, quiet=quiet, keep=keep, ticket_path=ticket_path)
    if any(not e.checked for e in result.environments):
        return EXIT_ERROR
    return EXIT_DRIFT if any(fail_threshold(r.findings, fail) for r in result.reports) else EXIT_OK


def _progress(
    enabled: bool | None, quiet: bool, several: bool
) -> Callable[[str, str, EnvironmentResult | None], None] | None:
    """Progress lines on stderr: by default for a run of several environments watched on a terminal."""
    if enabled is None:
        enabled = several and not quiet and sys.stderr.isatty()
    if not enabled:
        return None

    def show(what: str, name: str, result: EnvironmentResult | None) -> None:
        if result is None:
            line = f"drift: {name}: checking"
        else:
            took = f" ({result.seconds:.1f} s)" if result.seconds is not None else ""
            line = f"drift: {name}: {result.summary}{took}"
        click.echo(secrets.mask(line), err=True)

    return show


class _TableLine:
    """Tables reflected and compared, on stderr: one updating line on a terminal, a line now and then elsewhere."""

    def __init__(self, name: str, terminal: bool) -> None:
        self.name = name
        self.terminal = terminal
        self.every = 0.2 if terminal else 5.0
        self.last = 0.0
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        line = secrets.mask(f"drift: {self.name}: {stage} {done:,}/{total:,} tables")
        if self.terminal:
            click.echo(f"\r{line}\x1b[K", err=True, nl=False)
            self.shown = True
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)  # the report follows on a clean line


@contextlib.contextmanager
def _table_progress(name: str, enabled: bool | None, quiet: bool) -> Iterator[_TableLine | None]:
    """Progress within one check: by default on a terminal only, never with --quiet."""
    terminal = sys.stderr.isatty()
    if quiet or enabled is False or (enabled is None and not terminal):
        yield None
        return
    line = _TableLine(name, terminal)
    try:
        yield line
    finally:
        line.close()


def _run_one(
    config: Config, name: str, time_limit: float | None,
    show: Callable[[str, str, EnvironmentResult | None], None] | None, risk: RiskOptions,
    *, progress: bool | None = None, quiet: bool = False,
) -> RunResult:
    """One environment for a scheduled run: a report, or the one-line error when it could not be checked."""
    if time_limit is None:
        if show is not None:
            show("started", name, None)
        started = time.monotonic()
        with _table_progress(name, progress, quiet) as follow:
            report = run_check(config, name, risk=risk, progress=follow)
        outcome = EnvironmentResult(name, "checked", report=report, seconds=time.monotonic() - started)
        if show is not None:
            show("finished", name, outcome)
    else:
        outcome = run_environments(
            config, [name], time_limit=time_limit, pair=False, on_progress=show, check_options={"risk": risk}
        ).environments[0]
        if outcome.report is None:
            if outcome.status == "timed_out":
                raise CheckTimeoutError(f"environment {name!r}: {outcome.reason}", environment=name)
            raise DriftError(outcome.reason or outcome.summary, environment=name)
    return RunResult(
        environments=(outcome,),
        generated_at=outcome.report.generated_at if outcome.report else datetime.now(timezone.utc),
        tool_version=__version__,
        name=name,
        time_limit=time_limit,
    )


@dataclass(frozen=True)
class _Plan:
    """Where a run's reports go, decided before anything connects."""

    name: str
    targets: list[tuple[str, Path | None]]
    directory: Path | None = None
    history: bool = False


def _plan(
    config: Config, name: str, formats: Sequence[str], output: str | None, *, history: bool, several: bool
) -> _Plan:
    """Files or stdout for a run of several environments, or for one with --history / --ticket / --time-limit.

    History is kept when the reports go to a folder and either several
    environments are checked or --history (or --keep) is given; then the
    JSON is always written too.
    """
    formats = tuple(dict.fromkeys(formats or ("text",)))
    to_stdout = output == "-" or (output is None and not history and len(formats) == 1 and formats[0] in STREAM_FORMATS)
    directory: Path | None = None
    if not to_stdout:
        if output is None:
            directory = config.report_dir
        elif Path(output).is_dir() or output.endswith(("/", "\\")):
            directory = Path(output)
    if history and directory is None:
        raise click.UsageError(
            "--history and --keep need a folder to keep history in: --output DIR (or report_dir, without --output)"
        )
    if directory is None:
        return _Plan(name, _targets(config, name, formats, output))
    keeps_history = history or several
    if keeps_history and "json" not in formats:
        formats = (*formats, "json")  # the next run reads it to mark what changed
    moment = datetime.now(timezone.utc)
    # Two runs within one second would share a name, and the second would replace the first: old reports are kept.
    while any(archive.stamped_path(directory, name, moment, EXTENSIONS[fmt]).exists() for fmt in formats):
        moment += timedelta(seconds=1)
    targets: list[tuple[str, Path | None]] = [
        (fmt, archive.stamped_path(directory, name, moment, EXTENSIONS[fmt])) for fmt in formats
    ]
    return _Plan(name, targets, directory, keeps_history)


def _publish(
    config: Config, result: RunResult, plan: _Plan, *, several: bool, quiet: bool, keep: int | None,
    ticket_path: str | None,
) -> None:
    """Render every report (and the ticket) first, then write them all, each atomically; then prune."""
    options = options_from_settings(config.settings)
    report_url = archive.check_report_url(config.settings.get("report_url"))
    ticket_chars = ticket_max_chars(config.settings)
    main_link = _link(plan.targets, report_url)

    def draw(fmt: str, full_report: str | None) -> str:
        if several:
            return render_run(result, fmt, max_chars=options.get("max_chars"), full_report=full_report)
        assert result.environments[0].report is not None
        return render(result.environments[0].report, fmt, **options, full_report=full_report)

    outputs: list[tuple[str, Path | None, str]] = [
        (fmt, path, draw(fmt, main_link[0] if main_link else None)) for fmt, path in plan.targets
    ]
    latest: list[tuple[str, Path, str]] = []
    if plan.history and plan.directory is not None:
        formats = [fmt for fmt, _ in plan.targets]
        names = [plan.name] if several else []
        for fmt in formats:
            for name in names:
                latest.append((fmt, archive.latest_path(plan.directory, name, EXTENSIONS[fmt]), draw(fmt, _latest_link(
                    plan.directory, name, formats, report_url))))
        # A stable copy per environment, of its own one-environment report (only for those checked this time).
        for e in result.environments:
            if e.report is None:
                continue
            link = _latest_link(plan.directory, e.name, formats, report_url)
            for fmt in formats:
                latest.append((fmt, archive.latest_path(plan.directory, e.name, EXTENSIONS[fmt]),
                               render(e.report, fmt, **options, full_report=link)))
    ticket = None
    if ticket_path is not None:
        ticket = render_ticket(
            result, link=main_link[0] if main_link else None, link_label=main_link[1] if main_link else None,
            max_chars=ticket_chars,
        )

    written: list[Path] = []
    for fmt, path, text in outputs:
        if path is None:
            if not quiet or fmt == "json":
                click.echo(text, nl=False)
        else:
            written.append(write_atomic(path, text))
    refreshed = [write_atomic(path, text) for _, path, text in latest]
    if ticket is not None and ticket_path is not None:
        written.append(write_atomic(Path(ticket_path), ticket))
    removed: list[Path] = []
    if keep is not None and plan.directory is not None:
        removed = archive.prune(plan.directory, keep, protect=[*written, *refreshed])
    if quiet or not (written or refreshed):
        return
    click.echo(result.verdict if several else result.reports[0].verdict if result.reports else result.verdict)
    for path in written:
        click.echo(f"wrote {path}")
    if refreshed:
        stems = sorted({p.name.rsplit(".", 1)[0] for p in refreshed})
        click.echo(f"updated {', '.join(stems)} in {plan.directory}")
    if removed:
        click.echo(f"removed {len(removed)} old report file{'s' if len(removed) != 1 else ''} (--keep {keep})")


def _link(targets: Sequence[tuple[str, Path | None]], report_url: str | None) -> tuple[str, str] | None:
    """The full report a Markdown report or ticket points to: the HTML of this run, else its Markdown or JSON."""
    for wanted in ("html", "markdown", "json"):
        for fmt, path in targets:
            if fmt == wanted and path is not None:
                return archive.report_link(path, report_url), path.name
    return None


def _latest_link(directory: Path, name: str, formats: Sequence[str], report_url: str | None) -> str | None:
    found = _link([(fmt, archive.latest_path(directory, name, EXTENSIONS[fmt])) for fmt in formats], report_url)
    return found[0] if found else None


def _targets(config: Config, env: str, formats: Sequence[str], output: str | None) -> list[tuple[str, Path | None]]:
    """Where each format goes: ``None`` means stdout. Decided before connecting, so bad options cost nothing."""
    if output == "-" or (output is None and len(formats) == 1 and formats[0] in STREAM_FORMATS):
        if len(formats) > 1:
            raise ReportWriteError("only one --format can go to stdout; use --output DIR for several")
        return [(formats[0], None)]
    directory: Path | None = None
    if output is None:
        directory = config.report_dir
    else:
        path = Path(output)
        if path.is_dir() or output.endswith(("/", "\\")):
            directory = path
        elif len(formats) > 1:
            raise ReportWriteError(f"--output {output!r} is a file, but {len(formats)} formats were asked for; "
                                   "give a directory instead")
        else:
            return [(formats[0], path)]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe_env = "".join(c if c.isalnum() or c in "-_" else "_" for c in env)
    return [(fmt, directory / f"drift-{safe_env}-{stamp}.{EXTENSIONS[fmt]}") for fmt in formats]


def _emit(
    report: Report, targets: list[tuple[str, Path | None]], quiet: bool, options: dict[str, Any] | None = None
) -> None:
    # The Markdown cap note points at the full report when this run writes one.
    html = next((str(p) for f, p in targets if f == "html" and p is not None), None)
    # Render everything first: a renderer that fails leaves every earlier report untouched.
    rendered = [(fmt, path, render(report, fmt, **(options or {}), full_report=html)) for fmt, path in targets]
    written: list[Path] = []
    for fmt, path, text in rendered:
        if path is None:
            if not quiet or fmt == "json":
                click.echo(text, nl=False)
        else:
            written.append(write_atomic(path, text))
    if written and not quiet:
        click.echo(report.verdict)
        for path in written:
            click.echo(f"wrote {path}")


@cli.command("diff")
@click.option("--from", "source", required=True, metavar="NAME", help="The environment ahead, usually dev.")
@click.option("--to", "target", required=True, metavar="NAME", help="The environment to bring level, usually prod.")
@_config_option
@click.option(
    "--format", "fmt", type=click.Choice(["html", "json", "markdown", "text"]), default="text", show_default=True,
    help="Output format.",
)
@click.option("--output", metavar="PATH", help="A file, a directory, or - for stdout (the default).")
@click.option(
    "--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
    help="Give up when both checks have not finished after this long (status 2).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (the exit status still tells).")
@_debug_option
@click.pass_context
@guarded
def diff_command(
    ctx: click.Context,
    source: str,
    target: str,
    config_path: str | None,
    fmt: str,
    output: str | None,
    time_limit: float | None,
    quiet: bool,
    debug: bool,
) -> int:
    """What the --to environment (prod) lacks or has differently compared with --from (dev), and what brings it level.

    Both are checked against the same models (at the same time), and their
    findings are compared: the databases themselves are never compared with
    each other, so dev on SQLite and prod on PostgreSQL work.

    \b
    Example:
      drift diff --from dev --to prod
      drift diff --from staging --to prod --format markdown --output -

    Exit status: 0 the two match (schema and revision), 1 they differ, 2 could not check either.
    """
    _setup_logging(_debug(ctx), quiet)
    if source == target:
        raise click.UsageError("--from and --to name the same environment; give two")
    config = Config.load(config_path)
    environment_names(config, [source, target])
    targets = _targets(config, f"{source}-vs-{target}", (fmt,), output if output is not None else "-")
    result = run_environments(config, [source, target], time_limit=time_limit, pair=(source, target))
    for e in result.environments:
        if e.report is None:
            raise DriftError(f"cannot compare {source} and {target}: {e.name} {e.summary}", environment=e.name)
    assert result.comparison is not None
    when = result.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = render_diff(result.comparison, fmt, generated_at=when, tool_version=__version__)
    for _, path in targets:
        if path is None:
            if not quiet or fmt == "json":
                click.echo(text, nl=False)
        else:
            write_atomic(path, text)
            if not quiet:
                click.echo(result.comparison.verdict)
                click.echo(f"wrote {path}")
    return EXIT_DRIFT if result.comparison.has_differences else EXIT_OK


@cli.command("accept")
@click.option("--env", "env_name", required=True, metavar="NAME", help="The environment whose findings are accepted.")
@click.option(
    "--id", "ids", multiple=True, metavar="ID", help="A finding's id, as reports show it; repeat for several."
)
@click.option("--all", "all_findings", is_flag=True, help="Accept every finding the check reports now.")
@click.option("--reason", required=True, metavar="TEXT", help="Why the drift is accepted; every report shows it.")
@click.option("--owner", required=True, metavar="NAME", help="Who answers for the acceptance.")
@click.option(
    "--expires", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
    help="The last day the acceptance holds (UTC).",
)
@click.option(
    "--days", type=click.IntRange(min=0), metavar="N",
    help=f"Or: hold for N days from today (default {DEFAULT_ACCEPT_DAYS}).",
)
@click.option("--global", "everywhere", is_flag=True, help="Accept in every environment, not only --env.")
@_config_option
@_debug_option
@click.pass_context
@guarded
def accept_command(
    ctx: click.Context,
    env_name: str,
    ids: Sequence[str],
    all_findings: bool,
    reason: str,
    owner: str,
    expires: datetime | None,
    days: int | None,
    everywhere: bool,
    config_path: str | None,
    debug: bool,
) -> int:
    """Accept known drift: later checks count it as accepted instead of reporting it, until it expires.

    Checks the environment (without causes or data queries: only the findings'
    ids are needed), then adds or renews an entry per finding in the
    accepted-drift file (drift-accepted.json beside config.ini, or [drift]
    accepted_file), with the reason, the owner and the expiry date. Commit
    that file. See docs/ignoring.md.

    \b
    Examples:
      drift accept --env prod --id modify_type-1a2b3c4d5e --reason "widened by the DBA" --owner alice
      drift accept --env prod --all --reason "legacy schema, see OPS-12" --owner data-team --days 30

    Exit status: 0 written (or nothing to accept), 2 could not check or an
    unknown id (the message lists the ids there are).
    """
    _setup_logging(_debug(ctx), False)
    if bool(ids) == all_findings:
        raise click.UsageError("give --id ID (repeat it for several) or --all, one of the two")
    if expires is not None and days is not None:
        raise click.UsageError("give --expires or --days, not both")
    today = utc_today()
    if expires is not None:
        until = expires.date()
    else:
        until = default_expiry(today, DEFAULT_ACCEPT_DAYS if days is None else days)
    config = Config.load(config_path)
    report = run_check(
        config, env_name, attribute=False, risk=RiskOptions.from_settings(config.settings, data_checks=False)
    )
    result = accept(
        config, env_name, None if all_findings else list(ids), reason, owner, until,
        report=report, everywhere=everywhere, today=today,
    )
    if not result.changed:
        click.echo(f"nothing to accept in {env_name}: {report.verdict}")
        return EXIT_OK
    for verb, entries in (("accepted", result.added), ("renewed", result.renewed)):
        for entry in entries:
            click.echo(f"{verb} {entry.id}  {entry.label}  in {entry.scope} until {entry.expires.isoformat()}")
    click.echo(f"wrote {result.path}")
    return EXIT_OK


@cli.command("envs")
@_config_option
@_debug_option
@click.pass_context
@guarded
def envs_command(ctx: click.Context, config_path: str | None, debug: bool) -> int:
    """List the environments in config.ini, with masked URLs.

    \b
    Example:
      drift envs --config config.ini
    """
    config = Config.load(config_path)
    if not config.environment_names:
        click.echo(f"no environments in {config.path.name} (a section needs url = … or dialect = …)")
    status = EXIT_OK
    for name in config.environment_names:
        try:
            env = config.environment(name)
        except DriftError as exc:  # one bad section must not hide the others
            click.echo(f"{name}\t?\t{secrets.mask(exc.message)}")
            status = EXIT_ERROR
        else:
            click.echo(f"{name}\t{env.dialect}\t{env.masked_url}")
    return status


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: exits with the documented status."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="drift")
    finally:
        # The process ends now. The interpreter's last collection would walk every object left
        # (4 s after a 10,000-table check, bench/exit_cost.py) to free memory the system takes back
        # anyway: set them aside first.
        gc.freeze()
