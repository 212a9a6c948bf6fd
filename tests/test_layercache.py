"""drift.layercache: scratch layers kept on disk (``[drift] scratch_cache``), on SQLite, PostgreSQL and MariaDB.

Each test runs the example application of ``test_causes`` with a cache
folder: the first check builds its scratch schemas and stores them, the next
builds nothing and gives every finding the same cause; changing what a layer
is made of (a migration, the models) builds again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenarios import logging_kept
from test_causes import NICKNAME, USER_EMAIL, Example, causes_of
from test_causes import _restore_sys_path, example  # noqa: F401  (the fixtures this module's tests use)
from drift import layercache
from drift.cli import cli
from drift.findings import Finding, Risk

THREE_CAUSES = {
    "tasks.due_date": "pending_migration",
    "users.email": "missing_migration",
    "users.nickname": "out_of_band",
}


def cached(project: Example) -> list[Path]:
    return sorted((project.root / "cache").glob("layer-*.json"))


@pytest.fixture
def behind(example: Example, monkeypatch: pytest.MonkeyPatch) -> Example:  # noqa: F811
    """At 0001 with a hand-made column: one finding of each cause; scratch_cache = cache.

    The models are imported afresh, from this copy of the example, as a new ``drift check`` would.
    """
    for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
        monkeypatch.delitem(sys.modules, name)
    example.configure(drift_lines="scratch_cache = cache")
    example.migrate("0001_initial")
    example.execute(NICKNAME)
    return example


def test_the_second_check_builds_nothing_and_tells_the_same_causes(behind: Example) -> None:
    first = behind.check()
    assert causes_of(first) == THREE_CAUSES
    assert len(behind.made) == 1 and behind.scratch_gone()
    files = cached(behind)
    assert len(files) == 2  # the recorded revision's layer and head's
    assert sorted(json.loads(p.read_text())["revisions"] for p in files) == [["0001_initial"], ["0002_task_due_date"]]

    second = behind.check()
    assert len(behind.made) == 1  # no scratch database this time
    assert [(f.id, f.cause, f.cause_detail) for f in second.findings] == [
        (f.id, f.cause, f.cause_detail) for f in first.findings
    ]
    assert second.notes == first.notes
    assert cached(behind) == files


def test_a_new_migration_builds_again(behind: Example) -> None:
    behind.check()
    behind.add_revision("0003_user_email", USER_EMAIL)
    report = behind.check()
    assert len(behind.made) == 2
    assert causes_of(report) == {**THREE_CAUSES, "users.email": "pending_migration"}
    assert len(cached(behind)) == 2 + 3  # 0001, 0002 and 0003 again, under the new history's key


@pytest.mark.parametrize("dialect", ["sqlite"])
@pytest.mark.parametrize("change", ["migration", "models"])
def test_a_changed_file_builds_again(behind: Example, change: str) -> None:
    behind.check()
    edited = (behind.root / "alembic" / "versions" / "0001_initial.py" if change == "migration"
              else behind.root / "models" / "__init__.py")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert causes_of(behind.check()) == THREE_CAUSES
    assert len(behind.made) == 2
    assert len(cached(behind)) == 4


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_an_unreadable_file_is_built_again_and_replaced(behind: Example) -> None:
    behind.check()
    damaged = cached(behind)[0]
    damaged.write_text('{"format": 1, "findings": [', encoding="utf-8")
    assert causes_of(behind.check()) == THREE_CAUSES
    assert len(behind.made) == 2
    assert json.loads(damaged.read_text())["format"] == layercache.FORMAT


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_files_not_read_for_a_month_are_removed_when_another_is_written(behind: Example) -> None:
    folder = behind.root / "cache"
    folder.mkdir()
    old, fresh = folder / "layer-old.json", folder / "layer-fresh.json"
    for path in (old, fresh):
        path.write_text("{}", encoding="utf-8")
    month_ago = time.time() - (layercache.KEEP_DAYS + 1) * 86400
    os.utime(old, (month_ago, month_ago))
    behind.check()
    assert not old.exists() and fresh.exists()


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_a_file_where_the_folder_should_be_is_a_clear_error(behind: Example) -> None:
    (behind.root / "cache").write_text("not a folder", encoding="utf-8")
    with logging_kept():
        result = CliRunner().invoke(cli, ["check", "--env", "prod", "--config", str(behind.config_path)])
    assert result.exit_code == 2
    assert "scratch_cache = cache is a file, not a folder" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_a_folder_that_cannot_be_written_is_a_warning_and_the_check_goes_on(
    behind: Example, caplog: pytest.LogCaptureFixture
) -> None:
    behind.configure(drift_lines="scratch_cache = cache/inside-a-file")
    (behind.root / "cache").write_text("a file: nothing can be made inside it", encoding="utf-8")
    assert causes_of(behind.check()) == THREE_CAUSES
    assert "cannot write to" in caplog.text and caplog.text.count("cannot write to") == 1


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_the_key_is_the_same_in_a_new_process(behind: Example) -> None:
    """Two ``drift check`` processes: the second reads what the first stored, and makes no scratch database."""
    command = [sys.executable, "-m", "drift", "check", "--env", "prod", "--config", str(behind.config_path),
               "--format", "json", "--debug"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), str(behind.root)])}
    first = subprocess.run(command, capture_output=True, text=True, cwd=behind.root, env=environment, timeout=120)
    assert first.returncode == 1, first.stderr
    assert "scratch database:" in first.stderr and len(cached(behind)) == 2
    second = subprocess.run(command, capture_output=True, text=True, cwd=behind.root, env=environment, timeout=120)
    assert second.returncode == 1, second.stderr
    assert "scratch database:" not in second.stderr
    assert second.stderr.count("from scratch_cache") == 2
    findings = [json.loads(run.stdout)["findings"] for run in (first, second)]
    assert findings[0] == findings[1]
    assert {f["name"]: f["cause"] for f in findings[1]} == {"due_date": "pending_migration", "email": "missing_migration",
                                                             "nickname": "out_of_band"}


def test_findings_round_trip_through_their_dicts() -> None:
    finding = Finding(
        kind="modify_nullable", table="t", name="c", schema="s", object_type="column", message="m",
        models={"nullable": False, "type": "VARCHAR(10)"}, database={"nullable": True}, severity="warning",
        cause="out_of_band", cause_detail="d", upgrade_code="op.x()", downgrade_code="op.y()",
        risks=(Risk("r", "danger", "3 rows are NULL", {"rows": 3}, True, "backfill", "op.execute('UPDATE')"),),
    )
    assert Finding.from_dict(finding.to_dict()) == finding
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))).to_dict() == finding.to_dict()


# --------------------------------------------------------------------------- what a key is made of


def test_a_key_does_not_depend_on_which_passwords_the_process_has_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masking depends on the secrets registered so far (a dev password 'postgres' masks the scratch URL's user):
    keys use the URL without its password instead, so every check of a run — and every run — agrees."""
    from drift import secrets
    from drift.scratch import ScratchTarget
    from sqlalchemy.engine import make_url

    monkeypatch.setattr(secrets, "_secrets", set())
    monkeypatch.setattr(secrets, "_pattern", None)
    target = ScratchTarget("postgresql", make_url("postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:5432/postgres"))
    before = (target.identity, target.masked_server)
    secrets.register("postgres")
    assert target.masked_server != before[1]  # what the key used to be made of
    assert target.identity == before[0] == "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    other = ScratchTarget("postgresql", make_url("postgresql+psycopg://postgres:x@127.0.0.2:5432/postgres"))
    assert other.identity != target.identity


def test_enum_labels_that_ddl_does_not_show_are_part_of_the_models_digest() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    def digest(labels: tuple[str, ...]) -> dict[str, str]:
        kinds = {
            "array": postgresql.ARRAY(sa.Enum(*labels, name="mood")),
            "variant": sa.String(10).with_variant(sa.Enum(*labels, name="mood"), "postgresql"),
            "native": sa.Enum(*labels, name="mood"),
        }
        out = {}
        for kind, type_ in kinds.items():
            metadata = sa.MetaData()
            sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("m", type_))
            out[kind] = layercache._schema_digest(metadata, postgresql.dialect())
        return out

    first, again, more = digest(("a", "b")), digest(("a", "b")), digest(("a", "b", "c"))
    assert first == again
    assert all(first[kind] != more[kind] for kind in first), (first, more)


def test_version_locations_in_a_package_are_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    package = tmp_path / "shipped_migrations"
    (package / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "versions" / "r1.py").write_text("revision = 'r1'\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    script_dir = tmp_path / "alembic"
    script_dir.mkdir()
    project = SimpleNamespace(script=SimpleNamespace(dir=str(script_dir),
                                                     version_locations=["shipped_migrations:versions"]))
    roots = layercache._script_locations(project)  # type: ignore[arg-type]
    assert roots == [script_dir.resolve(), (package / "versions").resolve()]
    before = layercache._files_digest(roots)
    (package / "versions" / "r1.py").write_text("revision = 'r1'  # edited\n", encoding="utf-8")
    assert layercache._files_digest(roots) != before


def test_a_run_folder_that_cannot_be_used_costs_sharing_not_the_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from drift.causes import Layer

    in_the_way = tmp_path / "file"
    in_the_way.write_text("a file where the run's folder should be", encoding="utf-8")
    shared = layercache.SharedLayersOnDisk(in_the_way / "layers")
    key = ("sqlite", False, "sqlite", "", ("0001",))
    layer = Layer("sqlite", ("0001",), ())
    with shared.building(key[:4]):
        shared.put(key, layer)
    assert shared.get(key) is None
    assert "cannot share" in caplog.text

    working = layercache.SharedLayersOnDisk(tmp_path / "layers")
    with working.building(key[:4]):
        working.put(key, layer)
    assert working.get(key) == layer


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_layers_in_memory_already_cost_no_key(behind: Example, monkeypatch: pytest.MonkeyPatch) -> None:
    """An attributor that has every layer (built, or shared by another check of the run) hashes nothing."""
    from test_causes import _attribute

    from drift.causes import Attributor
    from drift.config import Config
    from drift.history import graph_from_script_directory
    from drift.loading import load_alembic, load_metadata

    config = Config.load(behind.config_path)
    project, metadata = load_alembic(config), load_metadata(config)
    disk = layercache.LayerCache(behind.root / "cache", project, metadata, ["models"])
    attributor = Attributor(project, metadata, graph_from_script_directory(project.script), disk=disk)
    _, first = _attribute(behind, attributor)
    assert len(cached(behind)) == 2
    keys: list[object] = []
    real = layercache.LayerCache.key
    monkeypatch.setattr(layercache.LayerCache, "key", lambda self, *a: keys.append(a) or real(self, *a))
    _, second = _attribute(behind, attributor)
    assert keys == [] and second == first
