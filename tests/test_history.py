"""drift.history: revision graphs and migration states, from hand-built data.

Ids are chosen so that sorting them by name does not give the apply order:
a test that passes only proves the order came from the graph.
"""

from __future__ import annotations

import itertools
import json
import textwrap
import warnings
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from drift.history import (
    STATUSES,
    MigrationState,
    Revision,
    RevisionGraph,
    compute_state,
    graph_from_script_directory,
    read_current,
)

P = "alembic -x env=prod"


def rev(rev_id: str, *down: str, depends_on: tuple[str, ...] = ()) -> Revision:
    return Revision(rev_id, f"message {rev_id}", None, tuple(down), depends_on)


def ids(revisions: tuple[Revision, ...]) -> list[str]:
    return [r.id for r in revisions]


def state(graph: RevisionGraph, current, **kwargs) -> MigrationState:
    return compute_state(graph, current, env="prod", **kwargs)


@pytest.fixture
def linear() -> RevisionGraph:
    # c3a1 -> 07bd -> f2e9 -> 1a4c
    return RevisionGraph.from_revisions([rev("c3a1"), rev("07bd", "c3a1"), rev("f2e9", "07bd"), rev("1a4c", "f2e9")])


@pytest.fixture
def merged() -> RevisionGraph:
    #        9a -> 1f
    #  5e <           > 7d -> 02
    #        3c ------
    return RevisionGraph.from_revisions(
        [rev("5e"), rev("9a", "5e"), rev("1f", "9a"), rev("3c", "5e"), rev("7d", "3c", "1f"), rev("02", "7d")]
    )


@pytest.fixture
def two_heads() -> RevisionGraph:
    return RevisionGraph.from_revisions([rev("a0"), rev("b1", "a0"), rev("b2", "b1"), rev("c1", "a0")])


# --- the graph ---------------------------------------------------------------------------------


def test_heads_bases_and_ancestors(linear: RevisionGraph, merged: RevisionGraph, two_heads: RevisionGraph) -> None:
    assert linear.heads == ("1a4c",)
    assert linear.bases == ("c3a1",)
    assert linear.ancestors("f2e9") == {"c3a1", "07bd", "f2e9"}
    assert linear.ancestors("c3a1") == {"c3a1"}
    assert merged.heads == ("02",)
    assert merged.ancestors("7d") == {"5e", "9a", "1f", "3c", "7d"}
    assert two_heads.heads == ("b2", "c1")
    assert list(linear.revisions) == ["07bd", "1a4c", "c3a1", "f2e9"]
    assert "f2e9" in linear and "zzzz" not in linear and len(linear) == 4


def test_ancestors_of_an_unknown_revision_raises(linear: RevisionGraph) -> None:
    with pytest.raises(KeyError, match="'zzzz' is not in the migration history"):
        linear.ancestors("zzzz")
    with pytest.raises(KeyError, match="'zzzz'"):
        linear.path(["c3a1"], ["zzzz"])


def test_linear_path_is_in_apply_order(linear: RevisionGraph) -> None:
    assert ids(linear.path([], ["1a4c"])) == ["c3a1", "07bd", "f2e9", "1a4c"]
    assert ids(linear.path(["c3a1"], ["1a4c"])) == ["07bd", "f2e9", "1a4c"]
    assert ids(linear.path(["1a4c"], ["1a4c"])) == []


def test_merge_path_applies_each_branch_contiguously(merged: RevisionGraph) -> None:
    assert ids(merged.path([], ["02"])) == ["5e", "9a", "1f", "3c", "7d", "02"]
    assert ids(merged.path(["9a"], ["02"])) == ["1f", "3c", "7d", "02"]
    assert ids(merged.path(["3c"], ["02"])) == ["9a", "1f", "7d", "02"]
    # Both branches applied separately: the database records two revisions.
    assert ids(merged.path(["1f", "3c"], ["02"])) == ["7d", "02"]


def test_merge_path_does_not_depend_on_input_order(merged: RevisionGraph) -> None:
    revisions = list(merged.revisions.values())
    expected = ids(merged.path(["9a"], ["02"]))
    for order in itertools.permutations(revisions):
        graph = RevisionGraph.from_revisions(order)
        assert ids(graph.path(["9a"], ["02"])) == expected
        assert graph == merged
    # Nor on the order a merge declares its parents in.
    swapped = RevisionGraph.from_revisions([r if r.id != "7d" else rev("7d", "1f", "3c") for r in revisions])
    assert ids(swapped.path([], ["02"])) == ["5e", "9a", "1f", "3c", "7d", "02"]


def test_depends_on_orders_but_does_not_unhead() -> None:
    graph = RevisionGraph.from_revisions([rev("a"), rev("z", "a"), rev("c", "a", depends_on=("z",))])
    assert graph.heads == ("c", "z")
    assert graph.ancestors("c") == {"a", "c", "z"}
    assert ids(graph.path([], ["c"])) == ["a", "z", "c"]


def test_hand_built_lists_become_tuples() -> None:
    r = Revision("b", "m", None, ["a"], ["x"])  # type: ignore[arg-type]
    assert r.down_revisions == ("a",) and r.depends_on == ("x",)
    assert rev("a").is_base and not rev("b", "a").is_base
    assert rev("m", "a", "b").is_merge


@pytest.mark.parametrize(
    ("revisions", "message"),
    [
        (
            [rev("a"), rev("b", "zz")],
            "revision 'b' has down_revision 'zz', which no migration script defines; "
            "fix the down_revision line in the script for 'b' or restore the missing script",
        ),
        (
            [rev("a"), rev("b", "a", depends_on=("zz",))],
            "revision 'b' has depends_on 'zz', which no migration script defines",
        ),
        ([rev("a"), rev("a")], "revision id 'a' is defined by two migration scripts"),
        ([rev("a", "a")], "revision 'a' names itself as its down_revision"),
        ([rev("a"), rev("b", "a", "c"), rev("c", "b")], r"the revisions form a cycle \(b -> c -> b\)"),
    ],
    ids=["unknown_down_revision", "unknown_depends_on", "duplicate", "self", "cycle"],
)
def test_invalid_graphs_are_refused(revisions: list[Revision], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RevisionGraph.from_revisions(revisions)


def test_graph_keys_must_match_ids() -> None:
    with pytest.raises(ValueError, match="revision 'a' is stored under the id 'b'"):
        RevisionGraph({"b": rev("a")})


# --- compute_state ------------------------------------------------------------------------------


def test_up_to_date(linear: RevisionGraph) -> None:
    s = state(linear, ["1a4c"])
    assert s == MigrationState(
        status="up_to_date",
        current=("1a4c",),
        heads=("1a4c",),
        pending=(),
        unknown=(),
        summary="The database is at head (1a4c).",
        commands=(f"{P} current",),
        warnings=(),
    )


def test_one_revision_behind(linear: RevisionGraph) -> None:
    s = state(linear, ["f2e9"])
    assert state(linear, "f2e9") == s
    assert s.status == "behind"
    assert ids(s.pending) == ["1a4c"]
    assert s.summary == "The database is 1 revision behind head (1a4c)."
    assert s.commands == (
        f"{P} current",
        f"{P} history -r current:head",
        f"{P} upgrade head",
        f"{P} downgrade -1",
    )
    assert s.warnings == ()


def test_three_revisions_behind(linear: RevisionGraph) -> None:
    s = state(linear, ("c3a1",))
    assert s.status == "behind"
    assert s.current == ("c3a1",)
    assert ids(s.pending) == ["07bd", "f2e9", "1a4c"]
    assert s.summary == "The database is 3 revisions behind head (1a4c)."
    assert s.warnings == (
        f"`{P} downgrade -1` undoes only the last revision applied; "
        f"`{P} downgrade c3a1` returns the database to where it is now.",
    )


def test_empty_version_table_is_behind_from_base(linear: RevisionGraph) -> None:
    s = state(linear, ())
    assert s.status == "behind"
    assert s.current == ()
    assert ids(s.pending) == ["c3a1", "07bd", "f2e9", "1a4c"]
    assert s.summary == "The database's version table is empty, so all 4 revisions up to head (1a4c) are pending."
    assert s.commands[2] == f"{P} upgrade head"
    assert s.warnings[1] == (
        f"`{P} downgrade -1` undoes only the last revision applied; "
        f"`{P} downgrade base` returns the database to where it is now."
    )
    assert s.warnings[0].startswith("An empty version table usually means an empty database")


def test_behind_a_merge_lists_pending_in_apply_order(merged: RevisionGraph) -> None:
    s = state(merged, ["3c", "1f"])
    assert s.status == "behind"
    assert s.current == ("1f", "3c")
    assert ids(s.pending) == ["7d", "02"]
    assert s.summary == "The database is 2 revisions behind head (02)."
    # With two recorded revisions there is no single revision to downgrade back to.
    assert s.warnings == ()


def test_multiple_heads(two_heads: RevisionGraph) -> None:
    s = state(two_heads, ["b1"])
    assert s.status == "multiple_heads"
    assert s.heads == ("b2", "c1")
    assert ids(s.pending) == ["b2", "c1"]
    assert s.unknown == ()
    assert s.summary == (
        "The migration scripts have 2 heads (b2, c1), so `upgrade head` is ambiguous: "
        "merge them into one head before upgrading."
    )
    assert s.commands == (f"{P} heads", f'{P} merge heads -m "merge heads"', f"{P} upgrade head")
    assert s.warnings == ()


def test_multiple_heads_takes_precedence(two_heads: RevisionGraph) -> None:
    at_one_head = state(two_heads, ["c1"])
    assert (at_one_head.status, ids(at_one_head.pending)) == ("multiple_heads", ["b1", "b2"])

    with_unknown = state(two_heads, ["ffff"])
    assert with_unknown.status == "multiple_heads"
    assert (with_unknown.unknown, with_unknown.pending) == (("ffff",), ())
    assert with_unknown.warnings == (
        "The database records revision ffff, which these migration scripts do not define: "
        "it may be ahead of the code (deployed from a newer branch) or stamped from another branch.",
    )

    unversioned = state(two_heads, None)
    assert (unversioned.status, unversioned.current, unversioned.pending) == ("multiple_heads", (), ())
    assert unversioned.warnings[0].startswith("The database also has no version table")


def test_unknown_revision_may_be_ahead(linear: RevisionGraph) -> None:
    s = state(linear, ["ffff"])
    assert s.status == "unknown_revision"
    assert s.current == ("ffff",)
    assert s.unknown == ("ffff",)
    assert s.pending == ()
    assert s.summary == (
        "The database records revision ffff, which these migration scripts do not define: "
        "it may be ahead of the code (deployed from a newer branch) or stamped from another branch."
    )
    assert s.commands == (f"{P} current", f"{P} history", f"{P} stamp --purge 1a4c")
    assert len(s.warnings) == 1
    assert s.warnings[0].startswith(f"`{P} stamp --purge 1a4c` is a last resort: it replaces the recorded revision")
    assert "without changing the schema" in s.warnings[0]


def test_unknown_alongside_a_known_revision(merged: RevisionGraph) -> None:
    s = state(merged, ["zz", "3c", "aa"])
    assert s.status == "unknown_revision"
    assert s.current == ("3c", "aa", "zz")
    assert s.unknown == ("aa", "zz")
    assert s.summary.startswith("The database records revisions aa, zz, which these migration scripts do not define")


def test_unversioned(linear: RevisionGraph) -> None:
    stamp_warning = (
        f"`{P} stamp 1a4c` only records 1a4c in a new version table; it creates and changes no tables, "
        "so use it only if the schema already matches 1a4c, otherwise stamp the revision it does match "
        "and then upgrade head."
    )

    unknown_contents = state(linear, None)
    assert unknown_contents.status == "unversioned"
    assert (unknown_contents.current, unknown_contents.pending, unknown_contents.unknown) == ((), (), ())
    assert unknown_contents.summary == (
        "The database has no version table, so alembic does not know which revision it is at: "
        "upgrade it to head if it is empty, or stamp the revision its schema matches if it has tables."
    )
    assert unknown_contents.commands == (f"{P} upgrade head", f"{P} stamp 1a4c")
    assert unknown_contents.warnings == (stamp_warning,)

    empty = state(linear, None, database_empty=True)
    assert empty.commands == (f"{P} upgrade head",)
    assert empty.warnings == ()
    assert empty.summary == (
        "The database has no version table and no tables, so upgrading creates everything up to head (1a4c)."
    )

    has_tables = state(linear, None, database_empty=False)
    assert has_tables.commands == (f"{P} stamp 1a4c",)
    assert has_tables.warnings == (stamp_warning,)


def test_empty_history() -> None:
    graph = RevisionGraph.from_revisions([])
    assert (graph.heads, graph.bases) == ((), ())

    s = state(graph, None)
    assert s.status == "empty_history"
    assert (s.current, s.heads, s.pending, s.unknown, s.warnings) == ((), (), (), (), ())
    assert s.summary == (
        "The migration scripts define no revisions, so there is nothing to compare the database's version with."
    )
    assert s.commands == (f"{P} history", f'{P} revision --autogenerate -m "initial schema"')

    recorded = state(graph, ["abc"])
    assert (recorded.status, recorded.unknown) == ("empty_history", ("abc",))
    assert recorded.warnings[0].startswith("The database records abc, so it was migrated by code")


def test_command_prefix_follows_the_project_convention(linear: RevisionGraph) -> None:
    s = compute_state(linear, ["1a4c"], command_prefix="poetry run alembic -c db/alembic.ini -x env={env}", env="ci")
    assert s.commands == ("poetry run alembic -c db/alembic.ini -x env=ci current",)
    assert compute_state(linear, ["1a4c"]).commands == ("alembic -x env=dev current",)


def test_every_status_is_reachable(linear: RevisionGraph, two_heads: RevisionGraph) -> None:
    reached = {
        state(linear, ["1a4c"]).status,
        state(linear, ["c3a1"]).status,
        state(linear, ["ffff"]).status,
        state(two_heads, ["a0"]).status,
        state(linear, None).status,
        state(RevisionGraph.from_revisions([]), None).status,
    }
    assert reached == set(STATUSES)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status 'ahead' is not one of up_to_date, behind"):
        MigrationState("ahead", (), (), (), (), "", ())


def test_to_dict_is_json_ready(merged: RevisionGraph) -> None:
    graph = RevisionGraph.from_revisions(
        [*merged.revisions.values(), Revision("e4", "add index", "2024-05-06 07:08:09.000010", ("02",))]
    )
    s = state(graph, ["7d"])
    doc = json.loads(json.dumps(s.to_dict()))
    assert doc == {
        "status": "behind",
        "summary": "The database is 2 revisions behind head (e4).",
        "current": ["7d"],
        "heads": ["e4"],
        "pending": [
            {"id": "02", "message": "message 02", "date": None, "down_revisions": ["7d"], "depends_on": []},
            {
                "id": "e4",
                "message": "add index",
                "date": "2024-05-06 07:08:09.000010",
                "down_revisions": ["02"],
                "depends_on": [],
            },
        ],
        "unknown": [],
        "commands": [
            f"{P} current",
            f"{P} history -r current:head",
            f"{P} upgrade head",
            f"{P} downgrade -1",
        ],
        "warnings": [
            f"`{P} downgrade -1` undoes only the last revision applied; "
            f"`{P} downgrade 7d` returns the database to where it is now."
        ],
    }


# --- alembic I/O --------------------------------------------------------------------------------


def _write_revision(versions: Path, name: str, body: str) -> None:
    (versions / f"{name}.py").write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")


@pytest.fixture
def script_dir(tmp_path: Path):
    from alembic.script import ScriptDirectory

    versions = tmp_path / "versions"
    versions.mkdir()
    _write_revision(
        versions,
        "0001_base",
        '''
        """create users

        Revision ID: 0001_base
        Revises:
        Create Date: 2024-01-02 03:04:05.000006

        """
        revision = "0001_base"
        down_revision = None
        branch_labels = None
        depends_on = None
        ''',
    )
    _write_revision(
        versions,
        "0002_email",
        '''
        """add users.email
        and an index on it

        Revision ID: 0002_email
        Revises: 0001_base
        Create Date: 2024-02-03 04:05:06.000007+00:00

        """
        revision = "0002_email"
        down_revision = "0001_base"
        branch_labels = None
        depends_on = None
        ''',
    )
    _write_revision(
        versions,
        "0002_orders",
        '''
        """create orders"""
        revision = "0002_orders"
        down_revision = ("0001_base",)
        branch_labels = None
        depends_on = "0002_email"
        ''',
    )
    _write_revision(
        versions,
        "0003_merge",
        '''
        """merge heads

        Revision ID: 0003_merge
        Revises: 0002_orders, 0002_email
        Create Date: 2024-03-04 05:06:07.000008

        """
        revision = "0003_merge"
        down_revision = ("0002_orders", "0002_email")
        branch_labels = None
        depends_on = None
        ''',
    )
    return ScriptDirectory(str(tmp_path))


def test_graph_from_script_directory(script_dir) -> None:
    graph = graph_from_script_directory(script_dir)
    assert dict(graph.revisions) == {
        "0001_base": Revision("0001_base", "create users", "2024-01-02 03:04:05.000006", ()),
        "0002_email": Revision("0002_email", "add users.email", "2024-02-03 04:05:06.000007+00:00", ("0001_base",)),
        "0002_orders": Revision("0002_orders", "create orders", None, ("0001_base",), ("0002_email",)),
        "0003_merge": Revision(
            "0003_merge", "merge heads", "2024-03-04 05:06:07.000008", ("0002_orders", "0002_email")
        ),
    }
    assert graph.heads == ("0003_merge",)
    assert ids(graph.path([], graph.heads)) == ["0001_base", "0002_email", "0002_orders", "0003_merge"]


def test_graph_from_script_directory_without_docstrings(script_dir) -> None:
    # python -OO drops module docstrings; the file itself still has them.
    expected = graph_from_script_directory(script_dir)
    for script in script_dir.walk_revisions():
        script.module.__doc__ = None
    assert graph_from_script_directory(script_dir) == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"a": 'revision = "a"\ndown_revision = "gone"\n'},
            "a migration script names 'gone' as its down_revision or depends_on, but no migration script defines it",
        ),
        (
            {"a": 'revision = "a"\ndown_revision = "b"\n', "b": 'revision = "b"\ndown_revision = "a"\n'},
            r"the migration scripts do not form a valid history: Cycle is detected in revisions \(a, b\)",
        ),
    ],
    ids=["missing_parent", "cycle"],
)
def test_graph_from_a_broken_script_directory(tmp_path: Path, files: dict[str, str], message: str) -> None:
    from alembic.script import ScriptDirectory

    (tmp_path / "versions").mkdir()
    for name, body in files.items():
        _write_revision(tmp_path / "versions", name, body)
    with warnings.catch_warnings(), pytest.raises(ValueError, match=message):
        warnings.simplefilter("ignore")  # alembic also warns about the missing revision
        graph_from_script_directory(ScriptDirectory(str(tmp_path)))


@pytest.fixture
def connection():
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        statements: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        conn.info["statements"] = statements
        yield conn
    engine.dispose()


def _setup(conn, *sql: str) -> None:
    for statement in sql:
        conn.exec_driver_sql(statement)
    conn.commit()
    conn.info["statements"].clear()


def _only_reads(conn) -> bool:
    statements = conn.info["statements"]
    return bool(statements) and all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements)


def test_read_current_without_a_version_table(connection) -> None:
    assert read_current(connection) is None
    assert _only_reads(connection)


def test_read_current_with_an_empty_version_table(connection) -> None:
    _setup(connection, "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    assert read_current(connection) == ()
    assert _only_reads(connection)


def test_read_current_with_revisions(connection) -> None:
    _setup(
        connection,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('f2e9'), ('07bd')",
        "CREATE TABLE other_versions (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO other_versions VALUES ('c3a1')",
    )
    assert read_current(connection) == ("07bd", "f2e9")
    assert read_current(connection, version_table="other_versions", version_table_schema="main") == ("c3a1",)
    assert read_current(connection, version_table="missing_versions") is None
    assert _only_reads(connection)
    # Nothing was written: the rows are exactly what the setup put there.
    assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 2
