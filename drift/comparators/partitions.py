"""Alembic's per-table comparison on every core: chunks of the tables compared here and in forked workers.

Once reflection costs a fixed number of round trips (:mod:`.prefetch`), a
large check is bound by CPU: SQLAlchemy building a ``Table`` from each
table's reflected rows and alembic comparing it with the model, one table
after another, in one process. Here, after the whole schema has been read
into the inspector's cache, the tables are dealt into chunks: the process
itself compares the first while forked workers compare the others from the
cache they inherited, one chunk each and as many at once as there are
processes to use, each exactly as alembic would (its own table comparator,
every plugin's table-level comparators). Each answers with the tables where
it found any difference; then alembic compares only those, as usual, and so
builds the exact op tree it would have built alone: the chunks decide what
to look at, never what is reported.

A worker ends with its chunk, so its memory goes back to the system whole:
no process holds more than one chunk's reflected tables, and none spends
time looking for garbage (workers run without the garbage collector).

Workers never touch the database. Before forking, the parent makes every
read a table comparison could need (alembic's bulk reads, SQLite's
catalogue rows, the :data:`~drift.comparators._util.SCHEMA_READS` of drift's
comparators); in a worker the connection refuses any statement, and the
driver too (a server's socket is replaced by ``/dev/null``, SQLite's
connection denies every statement), so nothing it does can reach the
database. A worker that fails
anyway — a read nobody made ahead, a signal, a crash — costs time, not
accuracy: its chunk is compared in the parent.

On PostgreSQL the bulk reads before the fork go over two sessions at once (a
second read-only connection of the check's own engine, in a thread, closed
and joined before anything forks): the server works on both.

Used only when the caller asks for it (:func:`forking`, which
:func:`drift.compare.compare` enters with ``workers`` > 1) and where it is
safe and worth it: PostgreSQL, MariaDB/MySQL with multi-statement batches,
or SQLite with its catalogue read in bulk; ``fork()`` available, no
other thread running in the process (a lock held by another thread would
stay held forever in the child), and at least :data:`MIN_TABLES` tables.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import json
import logging
import math
import os
import selectors
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.compare.tables import _autogen_for_tables
from alembic.autogenerate.compare.util import _INSP_KEYS, _InspectorConv
from alembic.operations import ops
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import event, inspect

from . import progress
from ..secrets import mask
from ._util import SCHEMA_READS, on_second_session
from .prefetch import SHARED_BULK_READS, multi_statements, share_bulk_reads, sqlite_bulk_reads

log = logging.getLogger(__name__)

#: Below this many tables a check takes well under a second and forking is not worth it.
MIN_TABLES = 300

#: Forked workers running at once at most (besides the process itself), whatever the number of CPUs.
MAX_WORKERS = 7

#: Dialects whose whole schema is read ahead in bulk (SQLite's by :func:`.prefetch.sqlite_read_in_bulk`).
DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")

#: A chunk has about this many tables at most, so that a process holds one chunk's reflected tables
#: at most: at 10,000 tables that keeps the memory of all processes at once near alembic's.
CHUNK_TABLES = 2500

#: A worker reports its progress at most this often (seconds).
PROGRESS_EVERY = 0.1

TableKey = tuple[str | None, str]


@dataclass
class Partitioned:
    """How a comparison was shared; ``workers`` (forked processes) is 0 when it was not (``reason`` says why)."""

    #: Forked processes, one per chunk but the first.
    workers: int = 0
    #: Processes comparing at once at most, this one included.
    processes: int = 0
    tables: int = 0
    #: Tables where a worker found a difference, compared again in the parent.
    candidates: int = 0
    #: Chunks whose worker failed, compared in the parent instead.
    failed: int = 0
    #: The most private memory (pages of their own, copied or new) the workers held at once, in bytes:
    #: each worker counted with what it held at its end, from its start.
    worker_memory: int = 0
    reason: str = ""
    #: Why each failed worker failed.
    errors: tuple[str, ...] = ()


_local = threading.local()


@contextlib.contextmanager
def forking(workers: int) -> Iterator[Partitioned]:
    """Let comparisons made by this thread, meanwhile, use up to ``workers`` processes (itself included)."""
    previous = getattr(_local, "plan", None)
    stats = Partitioned()
    _local.plan = (workers, stats) if workers > 1 else None
    if workers <= 1:
        stats.reason = "one process asked for"
    try:
        yield stats
    finally:
        _local.plan = previous
        _local.last = stats


def last() -> Partitioned | None:
    """What the last comparison of this thread did (for measurements)."""
    return getattr(_local, "last", None)


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def split(autogen_context: AutogenContext, upgrade_ops: Any, schemas: set[str | None]) -> PriorityDispatchResult:
    """Schema-level comparator, after :mod:`.prefetch`: compare in chunks, then only what they found."""
    plan = getattr(_local, "plan", None)
    if plan is None:
        return PriorityDispatchResult.CONTINUE
    _local.plan = None  # once per comparison
    workers, stats = plan
    reason = _cannot_fork(autogen_context)
    if reason:
        stats.reason = reason
        return PriorityDispatchResult.CONTINUE
    in_database = _database_tables(autogen_context, schemas)
    database_keys: set[TableKey] = set().union(*in_database.values())
    keys = database_keys | _model_tables(autogen_context)
    stats.tables = len(keys)
    if len(keys) < MIN_TABLES:
        stats.reason = f"{len(keys)} tables, fewer than {MIN_TABLES}"
        return PriorityDispatchResult.CONTINUE
    ordered = sorted(keys, key=lambda key: (key[0] or "", key[1]))
    processes = min(workers, MAX_WORKERS + 1, len(ordered))
    with _kept():  # what is read ahead stays for the whole comparison: no collection looks through it
        reason = _read_ahead(autogen_context, in_database)
    if reason:
        stats.reason = reason
        return PriorityDispatchResult.CONTINUE
    chunks = _chunks(autogen_context, ordered, processes, database_keys)
    found, failed, memory = _compare_shared(autogen_context, schemas, chunks, processes)
    candidates = set(found)
    for index in failed:
        candidates.update(chunks[index].keys)
    stats.errors = tuple(failed.values())
    stats.workers, stats.processes = len(chunks) - 1, processes
    stats.candidates, stats.failed, stats.worker_memory = len(candidates), len(failed), memory
    log.debug("compared %d tables in %d chunks, %d processes at once: %d to compare again, %d chunks failed",
              len(keys), len(chunks), processes, len(candidates), len(failed))
    only(autogen_context, candidates)
    return PriorityDispatchResult.CONTINUE


@contextlib.contextmanager
def _kept() -> Iterator[None]:
    """No collection runs meanwhile, and what was made is set aside (frozen) at the end.

    The bulk reads make about a hundred objects per table, all kept until the
    comparison ends; a collection would look through them in vain, and a
    worker would copy every page it wrote to while looking. A chunk's
    comparison makes next to no garbage until it ends (then its reflected
    tables all go at once). ``compare.py``'s
    :func:`~drift.compare.fewer_collections` puts it all back at its end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _cannot_fork(autogen_context: AutogenContext) -> str:
    dialect = autogen_context.dialect
    connection = autogen_context.connection
    if dialect is None or connection is None or dialect.name not in DIALECTS:
        return "not a database read in bulk"
    if not hasattr(os, "fork"):
        return "no fork() here"
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not _harmless(t)]
    if others:
        return "other threads are running"
    if dialect.name == "sqlite":
        # No socket to cut: a worker's connection denies every statement (_cut_off).
        return "" if sqlite_bulk_reads(connection) is not None else "SQLite's reflection is not read in bulk"
    if _socket_fd(connection) is None:
        return "the driver's socket is unknown"
    if _table_by_table(autogen_context) and not multi_statements(connection):
        return "table definitions are not fetched ahead (no multi-statement batches)"
    return ""


def _harmless(thread: threading.Thread) -> bool:
    # drift's deadline watchdog only sleeps and shuts connections down; workers arm no deadline.
    return thread.daemon and thread.name == "drift-deadline"


def _socket_fd(connection: Any) -> int | None:
    """The file descriptor of the connection's socket (psycopg, PyMySQL), or None."""
    try:
        dbapi_connection = connection.connection.dbapi_connection
    except Exception:
        return None
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is not None:
        fd = getattr(pgconn, "socket", None)
        return fd if isinstance(fd, int) and fd >= 0 else None
    sock = getattr(dbapi_connection, "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            return int(sock.fileno())
    return None


# --------------------------------------------------------------------------- in the parent


def _database_tables(autogen_context: AutogenContext, schemas: set[str | None]) -> dict[str | None, set[TableKey]]:
    """The tables alembic will reflect, by schema: listed and filtered as its tables comparator does."""
    inspector = autogen_context.inspector
    migration_context = autogen_context.migration_context
    found: dict[str | None, set[TableKey]] = {}
    for schema in schemas:
        found[schema] = {
            (schema, name) for name in inspector.get_table_names(schema=schema)
            if not (schema == migration_context.version_table_schema and name == migration_context.version_table)
            and autogen_context.run_name_filters(name, "table", {"schema_name": schema})
        }
    return found


def _model_tables(autogen_context: AutogenContext) -> set[TableKey]:
    default = _default_schema(autogen_context)
    return {(_plain_schema(table.schema, default), table.name) for table in autogen_context.sorted_tables}


def _read_ahead(autogen_context: AutogenContext, in_database: dict[str | None, set[TableKey]]) -> str:
    """Make every read a table comparison may need, before forking; why it cannot be shared after all, or "".

    SQLite's catalogue rows, or alembic's bulk reads, then drift's. Alembic's
    tables comparator makes its bulk reads with the same table names and so
    finds them all cached, in the workers and in the parent.
    """
    inspector = autogen_context.inspector
    sqlite = sqlite_bulk_reads(autogen_context.connection)  # None but on SQLite
    bulk = not _table_by_table(autogen_context)
    for schema, keys in sorted(in_database.items(), key=lambda item: item[0] or ""):
        if sqlite is not None and not sqlite.read_all(autogen_context.connection, schema, inspector.info_cache):
            return "a bulk read of SQLite's catalogue failed"
        if bulk:
            available = set(inspector.get_table_names(schema=schema))
            _bulk_reads_on_two_sessions(autogen_context, schema, [name for _, name in keys], available)
        for read in SCHEMA_READS:
            read(autogen_context, schema)
    return ""


#: Alembic's bulk reads that a second session makes meanwhile (about half the server's time).
SECOND_SESSION_READS = ("indexes", "foreign_keys", "unique_constraints")


def _bulk_reads_on_two_sessions(autogen_context: AutogenContext, schema: str | None, names: list[str],
                                available: set[str]) -> None:
    """Alembic's bulk reads of ``schema``, in two read-only sessions at once: the server works on both.

    The catalog queries are the same, and the same number; a second
    connection from the check's own engine (read-only, time-limited like the
    first) runs some of them in a thread while this one runs the rest, and
    its answers join this inspector's cache. It is closed, and the thread
    ended, before anything forks. Without a second connection, or if its part
    fails, this session reads it all, as alembic would.
    """
    inspector = autogen_context.inspector
    conv = _InspectorConv(inspector)

    def read_there(other: Any) -> dict[Any, Any]:
        helper = inspect(other)
        share_bulk_reads(helper)
        helper_conv = _InspectorConv(helper)
        for key in SECOND_SESSION_READS:
            helper_conv._pre_cache(schema, names, available, f"alembic_{key}", getattr(helper, f"get_multi_{key}"))
        return helper.info_cache

    with on_second_session(autogen_context.connection, read_there, name="drift-bulk-read") as there:
        for key in _INSP_KEYS:
            if key not in SECOND_SESSION_READS:
                conv._pre_cache(schema, names, available, f"alembic_{key}", getattr(inspector, f"get_multi_{key}"))
    for cache in there:
        for key, value in cache.items():
            inspector.info_cache.setdefault(key, value)
    conv.pre_cache_tables(schema, names, available)  # whatever is not cached yet


def _table_by_table(autogen_context: AutogenContext) -> bool:
    """MariaDB/MySQL and SQLite: SQLAlchemy's "bulk" reads reflect each table from what was read ahead.

    There, alembic's bulk reads are per-table CPU, not catalog queries: each
    worker makes them for its own tables only (:func:`_own_tables_only`),
    from the definitions (MariaDB) or catalogue rows (SQLite) :mod:`.prefetch`
    fetched.
    """
    return autogen_context.dialect is not None and autogen_context.dialect.name in ("mysql", "mariadb", "sqlite")


@contextlib.contextmanager
def _own_tables_only(autogen_context: AutogenContext, part: set[TableKey]) -> Iterator[None]:
    """MariaDB/MySQL and SQLite: bulk reads cover the tables of ``part``, not the whole schema.

    Meanwhile only; elsewhere the inspector's bulk reads are left as they are.
    """
    if not _table_by_table(autogen_context):
        yield
        return
    inspector = autogen_context.inspector
    saved = {method: vars(inspector).get(method) for method in SHARED_BULK_READS}
    for method in SHARED_BULK_READS:
        read = getattr(inspector, method)

        @functools.wraps(read)
        def restricted(schema: str | None = None, filter_names: Any = None, _read: Any = read, **kw: Any) -> Any:
            if filter_names is None:
                filter_names = [name for key_schema, name in part if key_schema == schema]
                if not filter_names:
                    return {}
            return _read(schema=schema, filter_names=filter_names, **kw)

        setattr(inspector, method, restricted)
    try:
        yield
    finally:
        for method, value in saved.items():
            if value is None:
                vars(inspector).pop(method, None)
            else:
                setattr(inspector, method, value)


def _plain_schema(schema: str | None, default: str | None) -> str | None:
    return None if schema == default else schema


def _default_schema(autogen_context: AutogenContext) -> str | None:
    return autogen_context.dialect.default_schema_name if autogen_context.dialect is not None else None


def only(autogen_context: AutogenContext, keys: set[TableKey]) -> None:
    """From now on this comparison looks at the tables in ``keys`` alone (besides its own filters).

    ``keys`` is read at each call of the filters: changing the set changes what is looked at.
    """
    default = _default_schema(autogen_context)

    def include_name(name: Any, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or (parent_names.get("schema_name"), name) in keys

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or (_plain_schema(obj.schema, default), name) in keys

    autogen_context._name_filters.append(include_name)
    autogen_context._object_filters.append(include_object)


@contextlib.contextmanager
def only_meanwhile(autogen_context: AutogenContext, keys: set[TableKey]) -> Iterator[None]:
    """:func:`only`, for the duration of the block."""
    names, objects = list(autogen_context._name_filters), list(autogen_context._object_filters)
    only(autogen_context, keys)
    try:
        yield
    finally:
        autogen_context._name_filters[:] = names
        autogen_context._object_filters[:] = objects


def _compare_shared(autogen_context: AutogenContext, schemas: set[str | None], chunks: list[_Chunk],
                    processes: int) -> tuple[set[TableKey], dict[int, str], int]:
    """The first chunk here, every other in a forked worker of its own, ``processes`` at once.

    Returns the tables found different, the chunks that failed (index → why)
    and the most memory the workers held at once.
    """
    state = progress.current()
    pool = _Pool(state, slots=processes - 1)  # this process compares too, for a start
    for index in range(1, len(chunks)):
        pool.queue.append((index, lambda fd, chunk=chunks[index]: _work(autogen_context, schemas, chunk, fd,
                                                                         reporting=state is not None)))
    try:
        pool.fill()
        if state is not None:
            state.redirect(pool.tell)
        # Like a worker's, this chunk's garbage waits: the first full collection after the comparison
        # frees it (before then, compare.py's fewer_collections would only freeze it, after a walk).
        with _kept():
            found = set(_compare_chunk(autogen_context, schemas, chunks[0]))
        pool.slots = processes  # this process only waits from now on
        pool.wait()
    finally:
        pool.end()
        if state is not None and pool.callback is not None:
            state.redirect(pool.callback)
    failed = dict(pool.refused)
    for worker in pool.workers:
        if worker.tables is None:
            failed[worker.index] = worker.error or "it ended without an answer"
        else:
            found.update(worker.tables)
    for index, why in sorted(failed.items()):
        log.debug("compare worker of chunk %d failed: %s", index, why)
    if state is not None:
        state.finish()  # the counts are done; the parent's last pass is not counted again
    return found, failed, _most_at_once(pool.workers)


@dataclass
class _Chunk:
    """Some of the tables: alembic is shown these alone while it compares them."""

    keys: set[TableKey]
    #: Their models, in alembic's order (``sorted_tables``).
    models: list[Any]
    #: Their names in the database, by schema.
    names: dict[str | None, list[str]]


def _chunks(autogen_context: AutogenContext, ordered: list[TableKey], processes: int,
            in_database: set[TableKey]) -> list[_Chunk]:
    """The tables dealt into equal chunks of :data:`CHUNK_TABLES` at most, as many as the processes or a multiple.

    Made before forking: a worker looking at all the models or all the
    names, even without comparing them, would touch (and so copy) the memory
    they live in; shown one chunk's, it touches those alone.
    """
    default = _default_schema(autogen_context)
    order = {}
    for position, table in enumerate(autogen_context.sorted_tables):
        order[(_plain_schema(table.schema, default), table.name)] = (position, table)
    count = processes * math.ceil(len(ordered) / (processes * CHUNK_TABLES))  # every round keeps all busy
    chunks = []
    for index in range(count):
        keys = ordered[len(ordered) * index // count:len(ordered) * (index + 1) // count]
        names: dict[str | None, list[str]] = {}
        for schema, name in keys:
            if (schema, name) in in_database:
                names.setdefault(schema, []).append(name)
        models = [table for _, table in sorted(order[key] for key in keys if key in order)]
        chunks.append(_Chunk(set(keys), models, names))
    return chunks


def _compare_chunk(autogen_context: AutogenContext, schemas: set[str | None], chunk: _Chunk) -> list[TableKey]:
    """Alembic's tables comparator on ``chunk``'s tables alone; the keys of those that differ.

    Alembic is shown the chunk's tables alone (models, names in the
    database). What that added to the reflection cache is dropped, and
    everything this changes on the comparison is put back, at the end.
    """
    default = _default_schema(autogen_context)
    inspector = autogen_context.inspector
    saved_tables = vars(autogen_context).get("sorted_tables")
    saved_names = vars(inspector).get("get_table_names")

    def table_names(schema: str | None = None, **kw: Any) -> list[str]:
        return list(chunk.names.get(schema, ()))

    cached = len(inspector.info_cache)
    with only_meanwhile(autogen_context, chunk.keys), _own_tables_only(autogen_context, chunk.keys):
        try:
            inspector.get_table_names = table_names  # type: ignore[method-assign]
            vars(autogen_context)["sorted_tables"] = chunk.models
            differences = ops.UpgradeOps([])
            _autogen_for_tables(autogen_context, differences, schemas)
            # Only the names are kept: an op holding a reflected column holds, through its table's
            # MetaData, every table of the chunk.
            found = _tables_in(differences.ops, default, chunk)
            del differences
        finally:
            _put_back(vars(autogen_context), "sorted_tables", saved_tables)
            _put_back(vars(inspector), "get_table_names", saved_names)
            _forget_since(inspector.info_cache, cached)
    return sorted(found, key=lambda key: (key[0] or "", key[1]))


def _put_back(attributes: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        attributes.pop(name, None)
    else:
        attributes[name] = value


def _forget_since(cache: dict[Any, Any], size: int) -> None:
    """Leave the reflection cache as a chunk found it: drop what was added since it held ``size`` entries.

    Dicts keep their order, so what the chunk added (its tables' reflected
    rows; on MariaDB their parsed definitions, whose text stays) is last.
    """
    added = len(cache) - size
    if added > 0:
        for key in list(itertools.islice(reversed(cache), added)):
            del cache[key]


class _Worker:
    def __init__(self, index: int, pid: int) -> None:
        self.index = index  # its chunk
        self.pid = pid
        self.started = time.monotonic()
        self.finished = float("inf")
        self.buffer = b""
        self.tables: set[TableKey] | None = None
        self.error = ""
        self.memory = 0
        self.counts: dict[str, int] = {}

    def take(self, message: dict[str, Any]) -> None:
        if "tables" in message:
            self.tables = {(schema, name) for schema, name in message["tables"]}
            self.memory = int(message.get("memory") or 0)
        elif "error" in message:
            self.error = str(message["error"])
        elif "counts" in message:
            self.counts = message["counts"]

    def end(self, fd: int, *, kill: bool) -> None:
        """Close the pipe and reap the process: it is exiting (its pipe closed), or is killed first."""
        self.finished = time.monotonic()
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(ChildProcessError, OSError):
            if kill:
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def _most_at_once(workers: list[_Worker]) -> int:
    """The most memory the workers held at once: a worker holds what it reported at its end from its start."""
    return max((sum(other.memory for other in workers if other.started <= worker.started < other.finished)
                for worker in workers), default=0)


class _Pool:
    """The forked workers of one comparison, their pipes, and the progress they report.

    Workers waiting in :attr:`queue` are forked, in order, while fewer than
    :attr:`slots` run.
    """

    def __init__(self, state: progress.State | None, slots: int) -> None:
        self.workers: list[_Worker] = []  # every worker forked, in order
        self.running: dict[int, _Worker] = {}  # read end of its pipe → worker, until it ends (fds are reused)
        self.queue: list[tuple[int, Callable[[int], None]]] = []
        self.slots = slots
        #: Chunks whose worker could not be forked (index → why).
        self.refused: dict[int, str] = {}
        self.state = state
        self.callback = state.callback if state is not None else None
        self.own: dict[str, int] = {}
        self.polled = 0.0
        self.selector = selectors.DefaultSelector()

    def fill(self) -> None:
        """Fork queued workers while fewer than :attr:`slots` run."""
        while self.queue and len(self.running) < self.slots:
            index, work = self.queue.pop(0)
            try:
                self.fork(index, work)
            except OSError as exc:  # no process or pipe to be had: the parent compares that chunk
                self.refused[index] = mask(f"{type(exc).__name__}: {exc}")

    def fork(self, index: int, work: Callable[[int], None]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the worker: never returns
            os.close(read_end)
            work(write_end)
        os.close(write_end)
        worker = _Worker(index, pid)
        self.workers.append(worker)
        self.running[read_end] = worker
        self.selector.register(read_end, selectors.EVENT_READ)

    def tell(self, stage: str, done: int, total: int) -> None:
        """Progress of the parent's own chunk, told with the workers' counts added."""
        self.own[stage] = done
        now = time.monotonic()
        if now - self.polled >= PROGRESS_EVERY:
            self.polled = now
            self._read(timeout=0)
        self._report()

    def wait(self) -> None:
        """Fork what is queued as workers end, and read every worker's messages until all have ended."""
        while True:
            self.fill()
            if not self.running:
                return
            self._read(timeout=None)
            self._report()

    def _read(self, timeout: float | None) -> None:
        if not self.running:
            return
        for key, _ in self.selector.select(timeout):
            fd = int(key.fd)
            worker = self.running[fd]
            data = os.read(fd, 1 << 16)
            if not data:  # the worker exited
                self._ended(fd, kill=False)
                continue
            worker.buffer += data
            *lines, worker.buffer = worker.buffer.split(b"\n")
            for line in lines:
                worker.take(json.loads(line))

    def _report(self) -> None:
        if self.state is None or self.callback is None:
            return
        for stage in ("reflected", "compared"):
            done = self.own.get(stage, 0) + sum(w.counts.get(stage, 0) for w in self.workers)
            total = self.state.reflect_total if stage == "reflected" else self.state.compare_total
            self.callback(stage, done, max(total, done))

    def end(self) -> None:
        """Stop reading; reap every worker (killing any still running: an exception or Ctrl-C here)."""
        self.queue.clear()
        for fd in list(self.running):
            self._ended(fd, kill=True)
        self.selector.close()

    def _ended(self, fd: int, *, kill: bool) -> None:
        self.selector.unregister(fd)
        self.running.pop(fd).end(fd, kill=kill)


# --------------------------------------------------------------------------- in a worker


def _work(autogen_context: AutogenContext, schemas: set[str | None], chunk: _Chunk, fd: int, *,
          reporting: bool) -> None:
    """Compare the tables of ``chunk`` and send back the keys of those with any difference; exits."""
    code = 1
    try:
        # The process ends with its chunk: its garbage goes with it, so it never looks for any (which
        # would also copy every page of the parent's it looked through).
        gc.disable()
        # The parent handles Ctrl-C and SIGTERM (and kills its workers); no cleanup of its may run here.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        logging.disable(logging.CRITICAL)  # the parent logs what it compares again
        _cut_off(autogen_context.connection)
        send = _sender(fd)
        if reporting:
            state = progress.current()
            if state is not None:
                state.reflected = state.compared = 0  # this chunk's own counts (the parent may have counted)
                state.redirect(_throttled(send))
        found = _compare_chunk(autogen_context, schemas, chunk)
        send({"tables": [list(key) for key in found], "memory": _private_memory()})
        code = 0
    except BaseException as exc:  # noqa: BLE001 -- told to the parent, which compares the chunk itself
        with contextlib.suppress(BaseException):
            _sender(fd)({"error": mask(f"{type(exc).__name__}: {exc}")[:300]})
    finally:
        os._exit(code)  # no atexit, no finalizers: nothing of the parent's is closed or flushed from here


def _cut_off(connection: Any) -> None:
    """No statement from this process: refused by SQLAlchemy, and by the driver anyway.

    A server's socket becomes ``/dev/null``; SQLite's connection (a file, no
    socket) gets an authorizer that denies every statement it would prepare.
    """

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        raise RuntimeError(f"a compare worker may not use the database: {' '.join(statement.split())[:120]}")

    fd = _socket_fd(connection)
    event.listen(connection, "before_cursor_execute", refuse)
    if fd is not None:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, fd)
        os.close(null)
    deny = getattr(connection.connection.dbapi_connection, "set_authorizer", None)  # sqlite3's
    if deny is not None:
        deny(_deny_all)


def _deny_all(*args: Any) -> int:
    return sqlite3.SQLITE_DENY


def _sender(fd: int) -> Callable[[dict[str, Any]], None]:
    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]

    return send


def _throttled(send: Callable[[dict[str, Any]], None]) -> progress.ProgressCallback:
    counts: dict[str, int] = {}
    last = [0.0]

    def tell(stage: str, done: int, total: int) -> None:
        counts[stage] = done
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            send({"counts": counts})

    return tell


def _tables_in(found: Iterable[ops.MigrateOperation], default: str | None, chunk: _Chunk) -> set[TableKey]:
    """The tables ``found`` is about; an operation about no one table stands for every table of the chunk."""
    tables: set[TableKey] = set()
    for op in found:
        name = getattr(op, "table_name", None)
        if name is None:
            return set(chunk.keys)
        tables.add((_plain_schema(getattr(op, "schema", None), default), str(name)))
    return tables


def _private_memory() -> int:
    """Bytes of this process's own pages (copied on write or new), from ``/proc`` where there is one."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    total = 0
    for line in lines:
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(split, "schema", "partitions", priority=DispatchPriority.FIRST)
