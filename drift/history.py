"""The migration state of a database, as plain data.

Two questions decide what a person should do before trusting a schema
comparison: which revisions do the migration scripts define, and which does
the database say it is at? This module answers both and turns the pair into a
:class:`MigrationState`: a status, the revisions still to apply, one plain
sentence and the ``alembic`` commands to run next.

Everything here except two small functions is pure: :class:`RevisionGraph`
and :func:`compute_state` work on hand-built :class:`Revision` values, so every
branch, merge and broken history can be tested without Alembic or a
database. The I/O lives in :func:`graph_from_script_directory` (reads the
migration scripts) and :func:`read_current` (one SELECT on the version table).

>>> graph = RevisionGraph.from_revisions([
...     Revision("0001", "create users", None, ()),
...     Revision("0002", "add email", None, ("0001",)),
... ])
>>> state = compute_state(graph, ["0001"], env="prod")
>>> state.status, [r.id for r in state.pending]
('behind', ['0002'])
>>> state.summary
'The database is 1 revision behind head (0002).'
>>> state.commands[2]
'alembic -x env=prod upgrade head'
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import column, inspect, select, table

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

__all__ = [
    "DEFAULT_COMMAND_PREFIX",
    "STATUSES",
    "MigrationState",
    "Revision",
    "RevisionGraph",
    "compute_state",
    "graph_from_script_directory",
    "read_current",
]

#: The project's env.py convention: the environment is chosen with ``-x env=…``.
DEFAULT_COMMAND_PREFIX = "alembic -x env={env}"

STATUSES = ("up_to_date", "behind", "unknown_revision", "multiple_heads", "unversioned", "empty_history")

_CREATE_DATE = re.compile(r"^[ \t]*Create Date:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Revision:
    """One migration script, reduced to what ordering and reporting need.

    ``down_revisions`` is ``()`` for a base and has two or more ids for a
    merge. ``depends_on`` holds resolved revision ids from Alembic's
    ``depends_on``: they are applied first, but, as in Alembic, they do not
    stop a revision from being a head.

    >>> Revision("0002", "add email", "2024-01-02 03:04:05", ("0001",)).to_dict()["down_revisions"]
    ['0001']
    """

    id: str
    message: str
    date: str | None
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists from hand-built data; a frozen value must hold tuples.
        object.__setattr__(self, "down_revisions", tuple(self.down_revisions))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))

    @property
    def is_base(self) -> bool:
        return not self.down_revisions

    @property
    def is_merge(self) -> bool:
        return len(self.down_revisions) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message": self.message,
            "date": self.date,
            "down_revisions": list(self.down_revisions),
            "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True)
class RevisionGraph:
    """The revisions the migration scripts define, validated and keyed by id.

    Construction checks the graph: every ``down_revision`` and ``depends_on``
    must name a revision in it, and there must be no cycle. A graph that
    passes always has at least one head and one base (unless it is empty).

    >>> graph = RevisionGraph.from_revisions([
    ...     Revision("a", "base", None, ()),
    ...     Revision("b", "one branch", None, ("a",)),
    ...     Revision("c", "another branch", None, ("a",)),
    ... ])
    >>> graph.heads, graph.bases
    (('b', 'c'), ('a',))
    >>> [r.id for r in graph.path(["a"], graph.heads)]
    ['b', 'c']
    """

    revisions: Mapping[str, Revision]

    def __post_init__(self) -> None:
        for key, rev in self.revisions.items():
            if key != rev.id:
                raise ValueError(f"revision {rev.id!r} is stored under the id {key!r}; key each revision by its own id")
        _validate(self.revisions)
        # Sorted and read-only, so iteration order never depends on how the scripts were listed.
        ordered = {key: self.revisions[key] for key in sorted(self.revisions)}
        object.__setattr__(self, "revisions", MappingProxyType(ordered))

    @classmethod
    def from_revisions(cls, revisions: Iterable[Revision]) -> RevisionGraph:
        """Build and validate a graph; a repeated id or an unknown parent raises ``ValueError``.

        >>> RevisionGraph.from_revisions([Revision("b", "x", None, ("a",))])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: revision 'b' has down_revision 'a', which no migration script defines; fix ...
        """
        by_id: dict[str, Revision] = {}
        for rev in revisions:
            if rev.id in by_id:
                raise ValueError(
                    f"revision id {rev.id!r} is defined by two migration scripts; give one of them a new id"
                )
            by_id[rev.id] = rev
        return cls(by_id)

    def __contains__(self, rev_id: object) -> bool:
        return rev_id in self.revisions

    def __len__(self) -> int:
        return len(self.revisions)

    @property
    def heads(self) -> tuple[str, ...]:
        """Revisions nothing revises, sorted. More than one means unmerged branches."""
        revised = {down for rev in self.revisions.values() for down in rev.down_revisions}
        return tuple(rev_id for rev_id in self.revisions if rev_id not in revised)

    @property
    def bases(self) -> tuple[str, ...]:
        """Revisions with no ``down_revision``, sorted."""
        return tuple(rev_id for rev_id, rev in self.revisions.items() if rev.is_base)

    def ancestors(self, rev_id: str) -> set[str]:
        """``rev_id`` and every revision that must be applied before it (``depends_on`` included).

        >>> graph = RevisionGraph.from_revisions([Revision("a", "", None, ()), Revision("b", "", None, ("a",))])
        >>> sorted(graph.ancestors("b"))
        ['a', 'b']
        """
        self._require(rev_id)
        seen = {rev_id}
        todo = [rev_id]
        while todo:
            for parent in self._parents(todo.pop()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def path(self, from_revs: Sequence[str], to_revs: Sequence[str]) -> tuple[Revision, ...]:
        """The revisions an upgrade from ``from_revs`` to ``to_revs`` applies, in apply order.

        ``from_revs`` is what the database records (``()`` for an empty
        version table). The order is a depth-first walk from the targets in
        id order, visiting parents in id order and emitting each revision
        after its parents: every revision follows the ones it needs, each
        branch of a merge is applied as one contiguous run, and the result
        depends only on the graph, never on file or input order.

        >>> graph = RevisionGraph.from_revisions([
        ...     Revision("a", "", None, ()), Revision("b", "", None, ("a",)), Revision("c", "", None, ("b",)),
        ... ])
        >>> [r.id for r in graph.path([], ["c"])], [r.id for r in graph.path(["b"], ["c"])]
        (['a', 'b', 'c'], ['c'])
        """
        applied: set[str] = set()
        for rev_id in from_revs:
            applied |= self.ancestors(rev_id)
        for rev_id in to_revs:
            self._require(rev_id)

        order: list[str] = []
        visited = set(applied)
        for target in sorted(set(to_revs)):
            if target in visited:
                continue
            visited.add(target)
            # An explicit stack: real histories can be deeper than Python's recursion limit.
            stack = [(target, iter(self._parents(target)))]
            while stack:
                node, parents = stack[-1]
                for parent in parents:
                    if parent not in visited:
                        visited.add(parent)
                        stack.append((parent, iter(self._parents(parent))))
                        break
                else:
                    stack.pop()
                    order.append(node)
        return tuple(self.revisions[rev_id] for rev_id in order)

    def _parents(self, rev_id: str) -> tuple[str, ...]:
        rev = self.revisions[rev_id]
        downs = sorted(set(rev.down_revisions))
        return tuple(downs) + tuple(sorted(set(rev.depends_on) - set(downs)))

    def _require(self, rev_id: str) -> None:
        if rev_id not in self.revisions:
            raise KeyError(f"revision {rev_id!r} is not in the migration history")


@dataclass(frozen=True)
class MigrationState:
    """Where a database stands against the migration scripts, and what to do about it.

    ``status`` is one of :data:`STATUSES`. ``pending`` lists the revisions an
    upgrade would apply, in apply order; ``unknown`` the recorded revisions
    the scripts do not define. ``commands`` are ready to paste, in the order
    to run them; ``warnings`` explain any command that changes the version
    record without changing the schema.

    >>> graph = RevisionGraph.from_revisions([Revision("0001", "create users", None, ())])
    >>> compute_state(graph, ["0001"]).to_dict()["commands"]
    ['alembic -x env=dev current']
    """

    status: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[Revision, ...]
    unknown: tuple[str, ...]
    summary: str
    commands: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "summary": self.summary,
            "current": list(self.current),
            "heads": list(self.heads),
            "pending": [rev.to_dict() for rev in self.pending],
            "unknown": list(self.unknown),
            "commands": list(self.commands),
            "warnings": list(self.warnings),
        }


def compute_state(
    graph: RevisionGraph,
    current: Sequence[str] | None,
    *,
    command_prefix: str = DEFAULT_COMMAND_PREFIX,
    env: str = "dev",
    database_empty: bool | None = None,
) -> MigrationState:
    """Compare what the database records with the migration scripts.

    ``current`` is what :func:`read_current` returned: ``None`` when there is
    no version table, ``()`` when the table is empty. ``database_empty`` only
    matters for a database without a version table: ``True`` suggests
    ``upgrade head``, ``False`` suggests ``stamp``, ``None`` (not known)
    suggests both and says which fits when.

    The first matching status wins: ``empty_history``, ``multiple_heads``,
    ``unversioned``, ``unknown_revision``, ``up_to_date``, ``behind``.

    >>> graph = RevisionGraph.from_revisions([
    ...     Revision("0001", "create users", None, ()),
    ...     Revision("0002", "add email", None, ("0001",)),
    ... ])
    >>> compute_state(graph, ["0002"]).summary
    'The database is at head (0002).'
    >>> compute_state(graph, ["ffff"], env="prod").status
    'unknown_revision'
    """
    prefix = command_prefix.format(env=env)

    def cmd(subcommand: str) -> str:
        return f"{prefix} {subcommand}"

    if isinstance(current, str):  # a lone revision id would otherwise be read as its characters
        current = (current,)
    heads = graph.heads
    recorded = None if current is None else tuple(sorted(set(current)))
    cur = recorded or ()
    unknown = tuple(rev_id for rev_id in cur if rev_id not in graph)

    def state(
        status: str,
        summary: str,
        commands: Sequence[str],
        warnings: Sequence[str] = (),
        pending: tuple[Revision, ...] = (),
    ) -> MigrationState:
        return MigrationState(
            status=status,
            current=cur,
            heads=heads,
            pending=pending,
            unknown=unknown,
            summary=summary,
            commands=tuple(commands),
            warnings=tuple(warnings),
        )

    if not graph.revisions:
        warnings = []
        if unknown:
            warnings.append(
                f"The database records {_ids(unknown)}, so it was migrated by code that has migration scripts; "
                "check that script_location in alembic.ini points at them."
            )
        return state(
            "empty_history",
            "The migration scripts define no revisions, so there is nothing to compare the database's version with.",
            [cmd("history"), cmd('revision --autogenerate -m "initial schema"')],
            warnings,
        )

    if len(heads) > 1:
        warnings = []
        if recorded is None:
            warnings.append(
                "The database also has no version table: after merging, upgrade it only if it is empty, "
                "otherwise stamp the revision its schema matches."
            )
        if unknown:
            warnings.append(_unknown_sentence(unknown))
        # Pending is only meaningful when every recorded revision is known;
        # the merge revision itself is not listed because it does not exist yet.
        pending = graph.path(cur, heads) if recorded is not None and not unknown else ()
        return state(
            "multiple_heads",
            f"The migration scripts have {len(heads)} heads ({_ids(heads)}), "
            "so `upgrade head` is ambiguous: merge them into one head before upgrading.",
            [cmd("heads"), cmd('merge heads -m "merge heads"'), cmd("upgrade head")],
            warnings,
            pending,
        )

    head = heads[0]

    if recorded is None:
        stamp_warning = (
            f"`{cmd('stamp ' + head)}` only records {head} in a new version table; it creates and changes no tables, "
            f"so use it only if the schema already matches {head}, otherwise stamp the revision it does match "
            "and then upgrade head."
        )
        if database_empty is True:
            return state(
                "unversioned",
                "The database has no version table and no tables, "
                f"so upgrading creates everything up to head ({head}).",
                [cmd("upgrade head")],
            )
        if database_empty is False:
            return state(
                "unversioned",
                "The database has tables but no version table, "
                "so alembic does not know which revision its schema is at.",
                [cmd(f"stamp {head}")],
                [stamp_warning],
            )
        return state(
            "unversioned",
            "The database has no version table, so alembic does not know which revision it is at: "
            "upgrade it to head if it is empty, or stamp the revision its schema matches if it has tables.",
            [cmd("upgrade head"), cmd(f"stamp {head}")],
            [stamp_warning],
        )

    if unknown:
        # Plain `stamp` first looks up the recorded revision and fails on one it
        # cannot find; --purge clears the record without reading it.
        stamp = cmd(f"stamp --purge {head}")
        return state(
            "unknown_revision",
            _unknown_sentence(unknown),
            [cmd("current"), cmd("history"), stamp],
            [
                f"`{stamp}` is a last resort: it replaces the recorded revision with {head} "
                f"without changing the schema, so run it only after confirming the schema matches {head}; "
                "the safer fix is to run alembic from the code that defines the recorded revision.",
            ],
        )

    pending = graph.path(cur, heads)
    if not pending:
        return state("up_to_date", f"The database is at head ({head}).", [cmd("current")])

    warnings = []
    if not cur:
        summary = (
            f"The database's version table is empty, so all {_count(len(pending), 'revision')} "
            f"up to head ({head}) are pending."
        )
        warnings.append(
            "An empty version table usually means an empty database; if it already has tables, "
            "`upgrade head` will fail on the first one it creates, so stamp the revision the schema matches instead."
        )
    else:
        summary = f"The database is {_count(len(pending), 'revision')} behind head ({head})."
    if len(pending) > 1 and len(cur) <= 1:
        back_to = cur[0] if cur else "base"
        warnings.append(
            f"`{cmd('downgrade -1')}` undoes only the last revision applied; "
            f"`{cmd('downgrade ' + back_to)}` returns the database to where it is now."
        )
    return state(
        "behind",
        summary,
        [cmd("current"), cmd("history -r current:head"), cmd("upgrade head"), cmd("downgrade -1")],
        warnings,
        pending,
    )


def graph_from_script_directory(script: ScriptDirectory) -> RevisionGraph:
    """Read every revision of an Alembic script directory into a :class:`RevisionGraph`.

    The message is the first line of the script's docstring and the date its
    ``Create Date:`` header. Both fall back to parsing the file when the
    module has no ``__doc__`` (Python run with ``-OO`` strips docstrings).
    A history Alembic cannot build (a missing parent, a cycle) raises
    ``ValueError``, as :meth:`RevisionGraph.from_revisions` does.

    >>> from alembic.script import ScriptDirectory        # doctest: +SKIP
    >>> graph = graph_from_script_directory(ScriptDirectory("alembic"))  # doctest: +SKIP
    >>> graph.heads                                       # doctest: +SKIP
    ('0003_add_x',)
    """
    try:
        scripts = list(script.walk_revisions())
    except KeyError as exc:
        # Alembic indexes its map by the missing id, so the key is the only clue it gives.
        raise ValueError(
            f"a migration script names {exc.args[0]!r} as its down_revision or depends_on, "
            "but no migration script defines it; fix that line or restore the missing script"
        ) from None
    except (RevisionError, CommandError) as exc:
        raise ValueError(f"the migration scripts do not form a valid history: {exc}") from None

    revisions = []
    for rev in scripts:
        doc = rev.module.__doc__ or _file_docstring(rev.path)
        dependencies: tuple[str, ...] = ()
        if rev.dependencies:
            # depends_on may name a branch label; the revision map resolves it to ids.
            resolved = script.revision_map.get_revisions(_as_tuple(rev.dependencies))
            dependencies = tuple(sorted(r.revision for r in resolved if r is not None))
        revisions.append(
            Revision(
                id=rev.revision,
                message=_first_line(rev.doc or doc),
                date=_create_date(doc),
                down_revisions=_as_tuple(rev.down_revision),
                depends_on=dependencies,
            )
        )
    return RevisionGraph.from_revisions(revisions)


def read_current(
    connection: Connection,
    version_table: str = "alembic_version",
    version_table_schema: str | None = None,
) -> tuple[str, ...] | None:
    """The revisions the database records, sorted; ``None`` when there is no version table.

    Only inspects and SELECTs, so it is safe on a read-only production
    session; it neither commits nor rolls back the caller's transaction.

    >>> from sqlalchemy import create_engine            # doctest: +SKIP
    >>> with create_engine("sqlite://").connect() as conn:  # doctest: +SKIP
    ...     read_current(conn)
    """
    if not inspect(connection).has_table(version_table, schema=version_table_schema):
        return None
    version = table(version_table, column("version_num"), schema=version_table_schema)
    rows = connection.execute(select(version.c.version_num)).scalars().all()
    return tuple(sorted(str(row) for row in rows if row is not None))


def _validate(revisions: Mapping[str, Revision]) -> None:
    for rev_id in sorted(revisions):
        rev = revisions[rev_id]
        for kind, parents in (("down_revision", rev.down_revisions), ("depends_on", rev.depends_on)):
            for parent in parents:
                if parent == rev_id:
                    raise ValueError(f"revision {rev_id!r} names itself as its {kind}; fix its {kind} line")
                if parent not in revisions:
                    raise ValueError(
                        f"revision {rev_id!r} has {kind} {parent!r}, which no migration script defines; "
                        f"fix the {kind} line in the script for {rev_id!r} or restore the missing script"
                    )
    _check_acyclic(revisions)


def _check_acyclic(revisions: Mapping[str, Revision]) -> None:
    done: set[str] = set()
    for start in sorted(revisions):
        if start in done:
            continue
        on_path = [start]
        on_path_set = {start}
        stack = [iter(_sorted_parents(revisions[start]))]
        while stack:
            for parent in stack[-1]:
                if parent in on_path_set:
                    loop = on_path[on_path.index(parent):] + [parent]
                    raise ValueError(
                        f"the revisions form a cycle ({' -> '.join(loop)}); one of them names a later revision "
                        "as its down_revision or depends_on"
                    )
                if parent not in done:
                    on_path.append(parent)
                    on_path_set.add(parent)
                    stack.append(iter(_sorted_parents(revisions[parent])))
                    break
            else:
                stack.pop()
                finished = on_path.pop()
                on_path_set.discard(finished)
                done.add(finished)


def _sorted_parents(rev: Revision) -> list[str]:
    return sorted(set(rev.down_revisions) | set(rev.depends_on))


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _first_line(text: str | None) -> str:
    for line in (text or "").strip().splitlines():
        return line.strip()
    return ""


def _create_date(doc: str | None) -> str | None:
    match = _CREATE_DATE.search(doc or "")
    return match.group(1) if match and match.group(1) else None


def _file_docstring(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return ast.get_docstring(ast.parse(fh.read()))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _unknown_sentence(unknown: Sequence[str]) -> str:
    noun = "revision" if len(unknown) == 1 else "revisions"
    return (
        f"The database records {noun} {_ids(unknown)}, which these migration scripts do not define: "
        "it may be ahead of the code "
        "(deployed from a newer branch) or stamped from another branch."
    )


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
