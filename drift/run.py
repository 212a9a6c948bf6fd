"""Check several environments in one run, concurrently, and return the outcome as data.

Each environment is checked by :func:`drift.check` in a thread of its own
(or a process: see below), with its own connection. An environment that
cannot be reached (or whose section is broken) becomes an
:class:`EnvironmentResult` saying why, masked, while the others are still
checked. With a time limit, environments that have not finished when it
expires are reported as timed out and asked to stop.

>>> result = run("config.ini", ["dev", "prod"], time_limit=600)   # doctest: +SKIP
>>> [(e.name, e.status) for e in result.environments]          # doctest: +SKIP
[('dev', 'checked'), ('prod', 'unreachable')]
>>> result.exit_status                                          # doctest: +SKIP
2

With ``parallel = processes`` in ``[drift]`` (or ``processes=True``; the
default, ``auto``, is processes on Linux and threads elsewhere) each check
runs in a process of its own instead, forked from the run's, so checks
of large schemas use a CPU each rather than taking turns on one; the rest is
the same (the scratch schemas are shared through files in a temporary folder
of the run's, each still built once), except that a stopped check's process
is sent SIGTERM, which runs the same cleanup.

Stopping a thread: Python cannot kill one, so a stopped check is refused its
next SQL statement (a SQLAlchemy event, for that thread only) and winds down
through its own error handling, which still removes any scratch database it
made. Signals are handled in the main thread only: SIGTERM and Ctrl-C there
stop every check the same way before the run gives up.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import __version__, secrets
from .causes import SharedLayers, SharedStore
from .check import check as _check
from .check import compare_processes_setting
from .comparators.partitions import available_cpus
from .config import Config
from .envdiff import EnvDiff, diff_reports
from .errors import AlembicConfigError, CheckTimeoutError, ConfigError, ConnectError, DriftError
from .findings import SCHEMA_VERSION, Report, count
from .history import RevisionGraph, graph_from_script_directory
from .layercache import SharedLayersOnDisk
from .loading import load_alembic, load_metadata
from .signals import terminate_raises

log = logging.getLogger(__name__)

STATUSES = ("checked", "unreachable", "failed", "timed_out")

#: At most this many environments are checked at the same time.
MAX_PARALLEL = 8
#: Seconds a stopped check may take to wind down (finish its statement, drop its scratch database).
STOP_GRACE = 30.0

ProgressCallback = Callable[[str, str, "EnvironmentResult | None"], None]


class RunStoppedError(CheckTimeoutError):
    """A check was stopped because the run's time limit expired or the run was interrupted."""


@dataclass(frozen=True)
class EnvironmentResult:
    """One environment of a run: its report, or why there is none.

    ``status`` is ``checked`` (``report`` is set), ``unreachable`` (the
    database could not be reached), ``failed`` (its section or the check
    failed otherwise) or ``timed_out`` (the run's time limit expired first).
    ``reason`` is one masked line.
    """

    name: str
    status: str
    report: Report | None = None
    reason: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def checked(self) -> bool:
        return self.report is not None

    @property
    def summary(self) -> str:
        """One line: the verdict, or what kept the environment from being checked."""
        if self.report is not None:
            return self.report.verdict
        return f"{STATUS_WORDS[self.status]}: {self.reason}" if self.reason else STATUS_WORDS[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "report": self.report.to_dict() if self.report is not None else None,
        }


STATUS_WORDS = {
    "checked": "checked",
    "unreachable": "could not be reached",
    "failed": "could not be checked",
    "timed_out": "did not finish in time",
}


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run over several environments, in the order they were asked for."""

    environments: tuple[EnvironmentResult, ...]
    generated_at: datetime
    tool_version: str
    name: str = "run"
    time_limit: float | None = None
    #: (source, target) of the environment comparison when one was asked for or configured.
    pair: tuple[str, str] | None = None
    comparison: EnvDiff | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        """2 when any environment could not be checked, else 1 when any has drift, else 0."""
        if any(not e.checked for e in self.environments):
            return 2
        return 1 if any(e.report is not None and e.report.has_drift for e in self.environments) else 0

    @property
    def has_drift(self) -> bool:
        return any(e.report is not None and e.report.has_drift for e in self.environments)

    @property
    def reports(self) -> tuple[Report, ...]:
        return tuple(e.report for e in self.environments if e.report is not None)

    def result(self, name: str) -> EnvironmentResult | None:
        return next((e for e in self.environments if e.name == name), None)

    @property
    def comparison_note(self) -> str | None:
        """Why an asked-for comparison is missing: one of its environments was not checked."""
        if self.pair is None or self.comparison is not None:
            return None
        missing = [n for n in self.pair if (r := self.result(n)) is None or not r.checked]
        return f"{' and '.join(self.pair)} were not compared: {', '.join(missing)} {_was(len(missing))} not checked"

    @property
    def verdict(self) -> str:
        """``3 environments: 1 with drift (prod), 1 without drift (dev), 1 not checked (staging)``."""
        drifted = [e.name for e in self.environments if e.report is not None and e.report.has_drift]
        clean = [e.name for e in self.environments if e.report is not None and not e.report.has_drift]
        failed = [e.name for e in self.environments if not e.checked]
        parts = []
        for names, words in ((drifted, "with drift"), (clean, "without drift"), (failed, "not checked")):
            if names:
                parts.append(f"{len(names)} {words} ({', '.join(names)})")
        return f"{count(len(self.environments), 'environment')}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "document": "run",
            "tool_version": self.tool_version,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "name": self.name,
            "verdict": self.verdict,
            "has_drift": self.has_drift,
            "all_checked": all(e.checked for e in self.environments),
            "time_limit": self.time_limit,
            "environments": [e.to_dict() for e in self.environments],
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "comparison_note": self.comparison_note,
            **dict(sorted(self.extras.items())),
        }


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


# --------------------------------------------------------------------------- choosing


def environment_names(config: Config, names: Sequence[str] | None) -> tuple[str, ...]:
    """The environments to check, in the order asked (``None``: every one in config.ini), without repeats.

    An unknown name raises :class:`~drift.errors.UnknownEnvironmentError` before anything connects.
    """
    if names is None:
        chosen = config.environment_names
        if not chosen:
            raise ConfigError(f"no environments in {config.path.name} (a section needs url = … or dialect = …)")
        return chosen
    chosen = tuple(dict.fromkeys(names))
    for name in chosen:
        if name not in config.sections:
            config.environment(name)  # raises UnknownEnvironmentError naming the known ones
    return chosen


def comparison_pair(config: Config, names: Sequence[str], *, all_environments: bool = False) -> tuple[str, str] | None:
    """Which two environments to compare: ``[drift] diff_pair``, else dev and prod, else the first two asked for.

    ``diff_pair = staging prod`` names the source (ahead, usually) and the
    target (the one a deploy would change). With ``--all`` and no
    ``diff_pair``, only dev and prod are paired: config order says nothing
    about which environment leads.

    >>> from types import SimpleNamespace
    >>> comparison_pair(SimpleNamespace(settings={}), ["prod", "dev", "ci"])
    ('dev', 'prod')
    >>> comparison_pair(SimpleNamespace(settings={}), ["staging", "prod"])
    ('staging', 'prod')
    """
    raw = config.settings.get("diff_pair", "").strip()
    if raw:
        pair = [p for p in re.split(r"[\s,]+", raw.replace("->", " ")) if p]
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"[drift] diff_pair = {raw!r} must name two environments: source target (e.g. dev prod)")
        return (pair[0], pair[1]) if pair[0] in names and pair[1] in names else None
    if "dev" in names and "prod" in names:
        return ("dev", "prod")
    if not all_environments and len(names) >= 2:
        return (names[0], names[1])
    return None


# --------------------------------------------------------------------------- running


def run(
    config: Config | str | os.PathLike[str] | None,
    names: Sequence[str] | None = None,
    *,
    time_limit: float | None = None,
    pair: tuple[str, str] | None | bool = True,
    on_progress: ProgressCallback | None = None,
    attribute: bool = True,
    max_parallel: int = MAX_PARALLEL,
    check_options: Mapping[str, Any] | None = None,
    processes: bool | None = None,
) -> RunResult:
    """Check ``names`` (``None``: every environment) concurrently; returns a :class:`RunResult`.

    ``pair``: ``True`` compares the pair :func:`comparison_pair` picks,
    ``False`` compares none, a tuple names it. ``on_progress(event, name,
    result)`` is called with ``"started"`` and ``"finished"`` from the
    calling thread. ``check_options`` go to every :func:`drift.check` call
    as keyword arguments. ``processes`` runs each check in a forked process
    (default: ``parallel`` in ``[drift]``; its default, ``auto``, is
    processes on Linux and threads elsewhere). Problems of the project itself
    (config, models, migration scripts) raise
    :class:`~drift.errors.DriftError` as :func:`drift.check` does: no
    environment could be checked anyway.
    """
    if not isinstance(config, Config):
        config = Config.load(config)
    if time_limit is not None and time_limit <= 0:
        raise ConfigError(f"the time limit must be a positive number of seconds, not {time_limit:g}")
    chosen = environment_names(config, names)
    if pair is True:
        chosen_pair = comparison_pair(config, chosen, all_environments=names is None)
    elif pair is False or pair is None:
        chosen_pair = None
    else:
        chosen_pair = (pair[0], pair[1])
    # The models and the migration scripts are the same for every environment: load them once, here,
    # so a broken models module is one error for the run instead of one per environment.
    load_metadata(config)
    graph = _graph(config)
    _install_stop_hook()

    in_processes = _use_processes(config, processes, len(chosen))
    runner = _run_processes if in_processes else _run_threads
    # Environments on the same scratch server at the same revision share each scratch schema, built once.
    with _shared_layers(in_processes) as layers:
        options = {"attribute": attribute, "scratch_layers": layers, **(check_options or {})}
        outcomes = runner(config, chosen, time_limit, on_progress, options, max(1, max_parallel))
    results = tuple(outcomes[name] for name in chosen)
    by_name = {r.name: r for r in results}
    comparison = None
    if chosen_pair is not None:
        source, target = (by_name.get(n) for n in chosen_pair)
        if source is not None and target is not None and source.report and target.report:
            comparison = diff_reports(source.report, target.report, graph, command_prefix=config.alembic_command)
    return RunResult(
        environments=results,
        generated_at=datetime.now(timezone.utc).replace(microsecond=0),
        tool_version=__version__,
        name="all" if names is None else "+".join(chosen),
        time_limit=time_limit,
        pair=chosen_pair,
        comparison=comparison,
    )


@contextlib.contextmanager
def _shared_layers(in_processes: bool) -> Iterator[SharedStore]:
    """Where the run's checks leave the scratch schemas they build: memory for threads, a temporary folder
    (removed afterwards) for forked processes."""
    if not in_processes:
        yield SharedLayers()
        return
    with tempfile.TemporaryDirectory(prefix="drift-run-layers-") as folder:
        yield SharedLayersOnDisk(Path(folder))


def _graph(config: Config) -> RevisionGraph:
    project = load_alembic(config)
    try:
        return graph_from_script_directory(project.script)
    except ValueError as exc:
        raise AlembicConfigError(f"the migration history cannot be read: {exc}") from None


class _Stop:
    """A check's stop flag: set by the main thread, honoured by the check's own thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reason: str | None = None
        self._event = threading.Event()

    def set(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


_local = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False
#: Threads told to stop that may still be winding down; the process waits for them at exit.
_stopping: list[threading.Thread] = []

# What removing a scratch database sends: a stopped check must still be allowed to clean up.
_CLEANUP = re.compile(
    r"^\s*(DROP\s+DATABASE|KILL\s+CONNECTION|ROLLBACK|SET\s+statement_timeout|SET\s+SESSION\s+lock_wait_timeout"
    r"|SELECT\s+ID\s+FROM\s+information_schema\.PROCESSLIST)",
    re.IGNORECASE,
)


def _refuse_when_stopped(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    stop: _Stop | None = getattr(_local, "stop", None)
    if stop is not None and stop.is_set and not _CLEANUP.match(statement or ""):
        raise RunStoppedError(f"environment {stop.name!r}: stopped: {stop.reason}", environment=stop.name)


def _install_stop_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            # Every engine, once: checks build their own engines (live and scratch) deep inside drift.check.
            event.listen(Engine, "before_cursor_execute", _refuse_when_stopped)
            atexit.register(_wait_for_stopping)
            _hook_installed = True


def _wait_for_stopping(grace: float = STOP_GRACE) -> None:
    """At exit: give stopped checks a little time to remove their scratch databases."""
    deadline = time.monotonic() + grace
    for thread in list(_stopping):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("a stopped check (%s) was still running at exit; a drift_scratch_* database "
                        "it made may be left behind", thread.name)


def _run_threads(
    config: Config,
    names: Sequence[str],
    time_limit: float | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
    max_parallel: int,
) -> dict[str, EnvironmentResult]:
    outbox: queue.Queue[EnvironmentResult] = queue.Queue()
    stops = {name: _Stop(name) for name in names}
    threads: dict[str, threading.Thread] = {}
    started_at: dict[str, float] = {}
    waiting = list(names)
    results: dict[str, EnvironmentResult] = {}
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def start_more() -> None:
        while waiting and len(threads) - len(results) < max_parallel:
            name = waiting.pop(0)
            thread = threading.Thread(
                target=_worker, args=(config, name, stops[name], options, outbox),
                name=f"drift-check-{name}", daemon=True,  # a stuck check must not keep the process alive
            )
            threads[name] = thread
            started_at[name] = time.monotonic()
            thread.start()
            _notify(on_progress, "started", name, None)

    try:
        with terminate_raises():
            start_more()
            while len(results) < len(names):
                wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if wait <= 0:
                    break
                try:
                    result = outbox.get(timeout=wait)  # a short wait, so Ctrl-C and SIGTERM are seen promptly
                except queue.Empty:
                    continue
                results[result.name] = result
                _notify(on_progress, "finished", result.name, result)
                start_more()
    except KeyboardInterrupt:
        _stop_all(stops, threads, results, "the run was interrupted")
        _wait(threads, results, STOP_GRACE)
        raise

    if len(results) < len(names):
        reason = _time_limit_reason(time_limit)
        _stop_all(stops, threads, results, reason)
        _timed_out(names, results, started_at, reason, on_progress)
    return results


def _time_limit_reason(time_limit: float | None) -> str:
    return f"the time limit of {time_limit:g} s expired before it finished"


def _timed_out(names: Sequence[str], results: dict[str, EnvironmentResult], started_at: Mapping[str, float],
               reason: str, on_progress: ProgressCallback | None) -> None:
    """Every environment without a result is timed out, with how long it ran."""
    for name in names:
        if name not in results:
            seconds = time.monotonic() - started_at[name] if name in started_at else None
            results[name] = EnvironmentResult(name, "timed_out", reason=reason, seconds=seconds)
            _notify(on_progress, "finished", name, results[name])


def _stop_all(
    stops: Mapping[str, _Stop], threads: Mapping[str, threading.Thread],
    results: Mapping[str, EnvironmentResult], reason: str,
) -> None:
    for name, stop in stops.items():
        if name not in results:
            stop.set(reason)
            if name in threads:
                _stopping.append(threads[name])
                log.info("stopping the check of %s: %s", name, reason)


def _wait(threads: Mapping[str, threading.Thread], results: Mapping[str, EnvironmentResult], grace: float) -> None:
    deadline = time.monotonic() + grace
    for name, thread in threads.items():
        if name not in results:
            thread.join(max(0.0, deadline - time.monotonic()))


def _notify(callback: ProgressCallback | None, what: str, name: str, result: EnvironmentResult | None) -> None:
    if callback is None:
        return
    try:
        callback(what, name, result)
    except Exception:  # progress is a courtesy; it must never end a run
        log.debug("progress callback failed", exc_info=True)


def _worker(
    config: Config, name: str, stop: _Stop, options: Mapping[str, Any], outbox: queue.Queue[EnvironmentResult]
) -> None:
    _local.stop = stop
    started = time.monotonic()
    try:
        result = _outcome(config, name, options, stop)
    finally:
        _local.stop = None
    if stop.is_set:
        return  # the run has already reported it as stopped
    outbox.put(_with_seconds(result, time.monotonic() - started))


def _outcome(config: Config, name: str, options: Mapping[str, Any], stop: _Stop | None = None) -> EnvironmentResult:
    """One environment's check as a result: a report, or why there is none (masked)."""
    try:
        report = _check(config, name, **options)
        result = EnvironmentResult(name, "checked", report=report)
    except RunStoppedError as exc:
        result = EnvironmentResult(name, "timed_out", reason=(stop.reason if stop else None) or exc.message)
    except ConnectError as exc:
        result = EnvironmentResult(name, "unreachable", reason=secrets.mask(exc.message))
    except DriftError as exc:
        result = EnvironmentResult(name, "failed", reason=secrets.mask(exc.message))
    except Exception as exc:  # a bug or a driver error nobody foresaw: this environment fails, the run goes on
        log.debug("checking %s failed", name, exc_info=True)
        result = EnvironmentResult(
            name, "failed", reason=secrets.mask(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}")
        )
    return result


# --------------------------------------------------------------------------- processes


def _use_processes(config: Config, processes: bool | None, count: int) -> bool:
    if processes is None:
        value = (config.settings.get("parallel") or "auto").strip().lower()
        if value not in ("auto", "threads", "processes"):
            raise ConfigError(f"[drift] parallel must be auto, threads or processes, not {value!r}")
        # auto: a process each where fork() is safe to use (Linux); elsewhere fork() in a process that has
        # loaded system frameworks can crash (macOS), and Windows has none.
        processes = value == "processes" or (value == "auto" and sys.platform.startswith("linux"))
    if processes and not hasattr(os, "fork"):
        log.info("parallel = processes needs fork(); checking in threads")
        return False
    return bool(processes) and count > 1


def _run_processes(
    config: Config,
    names: Sequence[str],
    time_limit: float | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
    max_parallel: int,
) -> dict[str, EnvironmentResult]:
    """:func:`_run_threads` with a forked process per check; started and watched from this thread only."""
    context = multiprocessing.get_context("fork")
    # The checks running at once share the CPUs: a large comparison in each forks that many processes at most.
    at_once = max(1, min(max_parallel, len(names)))
    options = {**options,
               "compare_processes": max(1, min(compare_processes_setting(config), available_cpus() // at_once))}
    waiting = list(names)
    running: dict[str, tuple[Any, Any]] = {}  # name → (process, receiving end of its pipe)
    started_at: dict[str, float] = {}
    results: dict[str, EnvironmentResult] = {}
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def start_more() -> None:
        while waiting and len(running) < max_parallel:
            name = waiting.pop(0)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(config, name, options, send),
                                      name=f"drift-check-{name}", daemon=True)
            process.start()
            send.close()
            running[name] = (process, receive)
            started_at[name] = time.monotonic()
            _notify(on_progress, "started", name, None)

    def collect(name: str) -> None:
        process, receive = running.pop(name)
        try:
            result = receive.recv()
        except (EOFError, OSError):
            process.join(STOP_GRACE)
            result = EnvironmentResult(name, "failed", reason=(
                f"the check's process ended without a result (exit status {process.exitcode})"))
        receive.close()
        process.join(STOP_GRACE)
        results[name] = _with_seconds(result, time.monotonic() - started_at[name])
        _notify(on_progress, "finished", name, results[name])

    try:
        with terminate_raises():
            start_more()
            while running:
                wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if wait <= 0:
                    break
                by_pipe = {id(receive): name for name, (_, receive) in running.items()}
                ready = multiprocessing.connection.wait([receive for _, receive in running.values()], timeout=wait)
                for receive in ready:
                    collect(by_pipe[id(receive)])
                start_more()
    except KeyboardInterrupt:
        _terminate(running)
        raise

    if len(results) < len(names):
        reason = _time_limit_reason(time_limit)
        _terminate(running)
        _timed_out(names, results, started_at, reason, on_progress)
    return results


def _terminate(running: Mapping[str, tuple[Any, Any]], grace: float = STOP_GRACE) -> None:
    """SIGTERM to every check still running (each removes its scratch database), then wait; SIGKILL past ``grace``."""
    for name, (process, _) in running.items():
        log.info("stopping the check of %s", name)
        process.terminate()
    deadline = time.monotonic() + grace
    for name, (process, receive) in running.items():
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("the check of %s did not stop in time; a drift_scratch_* database it made may be left "
                        "behind", name)
            process.kill()
            process.join()
        receive.close()


def _child(config: Config, name: str, options: Mapping[str, Any], send: Any) -> None:
    """In the forked process: one check, its result sent back; SIGTERM runs the same cleanup as Ctrl-C."""
    with terminate_raises():
        try:
            result = _outcome(config, name, options)
        except KeyboardInterrupt:
            return  # stopped: the run reports it
    try:
        send.send(result)
    finally:
        send.close()


def _with_seconds(result: EnvironmentResult, seconds: float) -> EnvironmentResult:
    return EnvironmentResult(result.name, result.status, result.report, result.reason, seconds)
