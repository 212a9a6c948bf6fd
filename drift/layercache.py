"""Scratch layers kept on disk between runs, keyed by everything that makes them.

A *layer* is what comparing the models with the schema the migrations build
at some revisions finds (:class:`drift.causes.Layer`). Building one takes a
scratch database and a run of the migrations — on a long history, most of a
check. A nightly run over unchanged migrations and models builds the same
layers night after night; with

.. code-block:: ini

    [drift]
    scratch_cache = .drift-cache

each layer is written to that folder as a JSON file and read back whenever
everything it depends on is unchanged. That is, hashed into the file's name:

* the cache format, drift (its version and its source), and every installed
  distribution with its version (alembic, SQLAlchemy, drivers, type libraries);
* the dialect family, the scratch server (its URL without the password) and
  its version;
* ``alembic.ini``, and every file under the Alembic script directory and the
  version locations — the migrations themselves, ``env.py``,
  ``script.py.mako`` — path and content;
* whether the migrations run through ``env.py``, the version table, the
  baseline (its setting and dump digest, or its models' source and DDL);
* the models: the Python source of the packages they are imported from, and
  the DDL their MetaData compiles to for the dialect, with the comments and
  enum labels DDL leaves out;
* the revisions the layer stands for.

Not covered: code that the migrations or ``env.py`` import from elsewhere in
the project (outside the script directory and the models' packages), and
anything they read besides those files; after changing such code, empty the
folder. The live database is never part of a layer. A layer file holds the
scratch schema's findings as drift found them — names, types and defaults
from the migrations, no connection details.

Files not read for :data:`KEEP_DAYS` days are removed when a new one is
written. A file that cannot be read or parsed is a miss, never an error; a
folder that cannot be written is a warning, and the check goes on. Each file
is written beside its final name and renamed into place, so checks running at
once never read half a file.

>>> cache = LayerCache(Path(".drift-cache"), project, metadata, ["models"])   # doctest: +SKIP
>>> key = cache.key(target, base="", revisions=("0002_task_due_date",))        # doctest: +SKIP
>>> cache.get(key, "sqlite", ("0002_task_due_date",)) is None                  # first run  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from alembic.util import coerce_resource_to_filename
from sqlalchemy import MetaData
from sqlalchemy.schema import CreateIndex, CreateTable

from . import __version__, secrets
from .findings import Finding
from .scratch import Baseline, ScratchError, ScratchTarget, server_version

if TYPE_CHECKING:
    from .causes import Layer
    from .loading import AlembicProject

log = logging.getLogger(__name__)

#: Bumped whenever what a file holds, or how a key is made, changes.
FORMAT = 1
#: A layer file not read for this many days is removed when another is written.
KEEP_DAYS = 30
PREFIX = "layer-"


class LayerCache:
    """Layers in ``folder``, one JSON file each, named by a digest of what built them.

    ``model_modules`` are the modules the models are imported from (as
    ``[drift] models`` and ``model_modules`` name them): the source of their
    top-level packages is part of every key.
    """

    def __init__(
        self,
        folder: Path,
        project: AlembicProject,
        metadata: MetaData,
        model_modules: Sequence[str],
        *,
        use_env_py: bool = False,
        baseline: Baseline | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.project = project
        self.metadata = metadata
        self.model_modules = tuple(model_modules)
        self.use_env_py = use_env_py
        self.baseline = baseline
        self._targets: dict[tuple[str, str], str | None] = {}
        self._guard = threading.Lock()
        self._warned = False

    def key(self, target: ScratchTarget, base: str, revisions: Sequence[str]) -> str | None:
        """The digest naming the layer at ``revisions`` built on ``target``; ``None`` when there can be none.

        There is none when the scratch server cannot be reached (its version
        is part of the key; the build then fails as it would have) or the
        models cannot be compiled for the dialect.
        """
        prefix = self._target_digest(target)
        if prefix is None:
            return None
        return _digest([prefix, base, list(revisions)])

    def get(self, key: str, family: str, revisions: Sequence[str]) -> Layer | None:
        """The layer stored under ``key``, or ``None`` (not there, unreadable, or not what the key says)."""
        path = self._path(key)
        layer = read_layer(path, family, revisions)
        if layer is None:
            return None
        try:
            os.utime(path)  # read now: kept another KEEP_DAYS
        except OSError:
            pass
        log.info("scratch schema at %s: from scratch_cache", ", ".join(revisions) or "base")
        return layer

    def put(self, key: str, layer: Layer) -> None:
        """Store ``layer`` under ``key``; a folder that cannot be written is a warning, once."""
        try:
            write_layer(self._path(key), layer)
        except OSError as exc:
            with self._guard:
                warned, self._warned = self._warned, True
            if not warned:
                log.warning("scratch_cache: cannot write to %s (%s); scratch schemas are built every time",
                            self.folder, exc.strerror or exc)
            return
        self._prune()

    # ----------------------------------------------------------------------- keys

    def _path(self, key: str) -> Path:
        return self.folder / f"{PREFIX}{key[:40]}.json"

    def _target_digest(self, target: ScratchTarget) -> str | None:
        slot = (target.family, target.identity)
        with self._guard:
            if slot in self._targets:
                return self._targets[slot]
        try:
            digest = _digest([
                FORMAT, __version__, _drift_source(), _installed(),
                target.family, target.identity, server_version(target),
                self.use_env_py, self.project.version_table, self.project.version_table_schema,
                _files_digest([Path(self.project.ini)]),
                _files_digest(_script_locations(self.project)),
                _models_digest(self.metadata, self.model_modules, target),
                _baseline_digest(self.baseline, target),
            ])
        except ScratchError as exc:
            log.debug("scratch_cache not used: %s", exc.message)
            digest = None
        except OSError as exc:
            log.warning("scratch_cache not used: cannot read %s (%s)", exc.filename or "a project file",
                        exc.strerror or exc)
            digest = None
        except Exception as exc:  # a model that does not compile for the dialect: no key, no cache
            log.info("scratch_cache not used for %s: the models do not compile for it (%s: %s)",
                     target.family, type(exc).__name__, secrets.mask(exc))
            digest = None
        with self._guard:
            self._targets[slot] = digest
        return digest

    def _prune(self) -> None:
        """Remove layers not read for KEEP_DAYS days, and what a writer that was killed left a day ago."""
        now = time.time()
        try:
            entries = [(p, KEEP_DAYS * 86400) for p in self.folder.glob(f"{PREFIX}*.json")]
            entries += [(p, 86400) for p in self.folder.glob(".writing-*.json")]
        except OSError:
            return
        for path, age in entries:
            try:
                if path.stat().st_mtime < now - age:
                    path.unlink()
            except OSError:
                pass


# --------------------------------------------------------------------------- one layer, one file


def write_layer(path: Path, layer: Layer) -> None:
    """``layer`` as JSON at ``path``: written beside it and renamed into place, so no reader sees half of it."""
    document = {
        "format": FORMAT,
        "family": layer.family,
        "revisions": list(layer.revisions),
        "drift": __version__,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "findings": [f.to_dict() for f in layer.findings],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".writing-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=True, default=str)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_layer(path: Path, family: str | None = None, revisions: Sequence[str] | None = None) -> Layer | None:
    """The layer at ``path``, or ``None``: missing, unreadable, of another format, or not the ``family`` and
    ``revisions`` asked for (when asked)."""
    from .causes import Layer

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if (document.get("format") != FORMAT or family is not None and document.get("family") != family
                or revisions is not None and document.get("revisions") != list(revisions)):
            log.debug("%s is not the layer its name says; ignored", path.name)
            return None
        layer = Layer(str(document["family"]), tuple(document["revisions"]),
                      tuple(Finding.from_dict(f) for f in document["findings"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.debug("%s cannot be read (%s); building it again", path.name, exc)
        return None
    return layer


class SharedLayersOnDisk:
    """:class:`drift.causes.SharedLayers` for checks in forked processes (``parallel = processes``).

    The run makes a temporary folder; each check writes the layers it builds
    there and reads those another check built, so each scratch schema is
    still built once per run. A check building layers of a partition (server,
    way, family, baseline) holds an exclusive ``flock`` on that partition's
    lock file, so another check that needs them waits, then reads them — as
    threads wait on :meth:`SharedLayers.building`. The kernel releases the lock
    of a process that dies.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def get(self, key: tuple[Any, ...]) -> Layer | None:
        return read_layer(self._path("layer", key))  # the name is the key's digest: nothing else to match

    def put(self, key: tuple[Any, ...], layer: Layer) -> None:
        try:
            write_layer(self._path("layer", key), layer)
        except OSError as exc:  # the other checks build it themselves
            log.warning("cannot share a scratch schema with the run's other checks (%s)", exc.strerror or exc)

    @contextlib.contextmanager
    def building(self, partition: tuple[Any, ...]) -> Iterator[None]:
        import fcntl  # POSIX, as the fork() that processes mode needs

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self._path("building", partition, ".lock"), "a", encoding="utf-8")
        except OSError as exc:  # build without waiting for the others: the same schema, perhaps twice
            log.warning("cannot share scratch schemas with the run's other checks (%s)", exc.strerror or exc)
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self, kind: str, key: tuple[Any, ...], suffix: str = ".json") -> Path:
        return self.folder / f"{kind}-{_digest(list(key))[:40]}{suffix}"


# --------------------------------------------------------------------------- what goes into a key


def _digest(parts: Iterable[Any]) -> str:
    return hashlib.sha256(json.dumps(list(parts), default=str).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _installed() -> list[tuple[str, str]]:
    """Every installed distribution and its version: a type library or driver upgraded changes the key."""
    return sorted({((d.metadata["Name"] or "").lower(), d.version or "") for d in importlib.metadata.distributions()})


@functools.lru_cache(maxsize=1)
def _drift_source() -> str:
    """drift's own files: a change to how drift compares is a change to every layer."""
    return _files_digest([Path(__file__).resolve().parent])


def _files_digest(roots: Iterable[Path], pattern: str = "*") -> str:
    """Every file under ``roots`` matching ``pattern`` (bytecode and hidden folders aside), by path relative to
    its root, and content."""
    digest = hashlib.sha256()
    for number, root in enumerate(roots):
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob(pattern)
            if p.is_file() and p.suffix not in (".pyc", ".pyo")
            and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(root).parts)
        )
        for path in files:
            relative = path.name if path == root else path.relative_to(root).as_posix()
            digest.update(f"{number}:{relative}\0".encode("utf-8"))
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def _script_locations(project: AlembicProject) -> list[Path]:
    """The script directory and any version locations outside it."""
    root = Path(project.script.dir).resolve()
    roots = [root]
    for location in project.script.version_locations or ():
        path = coerce_resource_to_filename(str(location)).resolve()  # also alembic's "package:folder" form
        if path.exists() and root not in path.parents and path != root:
            roots.append(path)
    return roots


def _sources(module_names: Iterable[str]) -> str:
    """The Python source of each named module's top-level package (or the module's file, for a top-level
    module); nothing else there — a SQLite file beside the models would change every key."""
    roots: list[Path] = []
    for name in sorted({n.partition(":")[0].split(".")[0] for n in module_names if n}):
        module = sys.modules.get(name)
        locations = list(getattr(module, "__path__", None) or ())
        if not locations and getattr(module, "__file__", None):
            locations = [module.__file__]
        roots.extend(Path(p).resolve() for p in locations)
    return _files_digest(roots, "*.py")


def _schema_digest(metadata: MetaData, dialect: Any) -> str:
    """The DDL ``metadata`` compiles to, with what DDL leaves out: comments and enum values."""
    digest = hashlib.sha256()
    for table in sorted(metadata.tables.values(), key=lambda t: t.key):
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode("utf-8"))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode("utf-8"))
        extras = [table.comment, [(c.key, c.comment, _labels(c.type, dialect)) for c in table.columns]]
        digest.update(json.dumps(extras, default=str).encode("utf-8"))
    return digest.hexdigest()


def _labels(type_: Any, dialect: Any, depth: int = 0) -> list[Any]:
    """The enum labels a column type holds, which DDL may not show (a named PostgreSQL enum, an ARRAY of one,
    a variant for another dialect, a TypeDecorator around one)."""
    if depth > 5:
        return []
    found: list[Any] = []
    for candidate in (type_, type_.dialect_impl(dialect)):
        enums = getattr(candidate, "enums", None)
        if enums:
            found.append([getattr(candidate, "name", None), list(enums)])
        item = getattr(candidate, "item_type", None)
        if item is not None:
            found += _labels(item, dialect, depth + 1)
    for name, variant in sorted(getattr(type_, "_variant_mapping", {}).items()):
        found.append([name, _labels(variant, dialect, depth + 1)])
    return found


def _dialect(target: ScratchTarget) -> Any:
    if target.server_url is not None:
        return target.server_url.get_dialect()()
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def _models_digest(metadata: MetaData, module_names: Sequence[str], target: ScratchTarget) -> str:
    """The source the models come from and the DDL they compile to for ``target``'s dialect."""
    return _digest([_sources(module_names), _schema_digest(metadata, _dialect(target))])


def _baseline_digest(baseline: Baseline | None, target: ScratchTarget) -> str:
    """A Base or MetaData baseline, as the models are; a dump's digest is in the layer's ``base`` already."""
    if baseline is None or baseline.metadata is None:
        return ""
    return _models_digest(baseline.metadata, [baseline.value], target)
