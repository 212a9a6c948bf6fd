"""The ``drift`` command: parse options, call the core once, render, exit.

Exit statuses are an API: 0 no drift, 1 drift found, 2 could not check
(click's own usage errors are 2 as well). Errors are one line on stderr;
``--debug`` adds the traceback. Progress and logs go to stderr so stdout
stays clean for ``--format json``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from . import __version__, secrets
from .check import check as run_check
from .config import Config
from .errors import DriftError, ReportWriteError
from .findings import Report
from .risk import DEFAULT_FAIL_ON, FAIL_ON, RiskOptions, fail_threshold
from .report import EXTENSIONS, FORMATS, options_from_settings, render, write_atomic

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
            code = fn(ctx, *args, **kwargs)
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
@click.option("--env", "env_name", required=True, metavar="NAME", help="Environment (a section of config.ini).")
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
    env_name: str,
    config_path: str | None,
    formats: Sequence[str],
    output: str | None,
    fail_on: str,
    deep: bool,
    data_checks: bool,
    quiet: bool,
    debug: bool,
) -> int:
    """Compare the models with the database of one environment.

    \b
    Examples:
      drift check --env prod
      drift check --env prod --format json --output -
      drift check --env dev --format html --format markdown   # written to reports/
      drift check --env prod --fail-on danger   # nightly: only a dangerous change fails

    Exit status: 0 no drift (or none at --fail-on's level), 1 drift found, 2 could not check.
    """
    _setup_logging(_debug(ctx), quiet)
    config = Config.load(config_path)
    formats = tuple(dict.fromkeys(formats or ("text",)))
    targets = _targets(config, env_name, formats, output)
    options = options_from_settings(config.settings)
    risk = RiskOptions.from_settings(config.settings, deep=deep, data_checks=data_checks)
    report = run_check(config, env_name, risk=risk)
    _emit(report, targets, quiet, options)
    return EXIT_DRIFT if fail_threshold(report.findings, fail_on.lower()) else EXIT_OK


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
    cli.main(args=list(argv) if argv is not None else None, prog_name="drift")
