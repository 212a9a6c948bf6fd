"""Import the user's models and find their Alembic project.

All the ways a project can be set up wrong surface here as one-line
:class:`~drift.errors.ModelsError` / :class:`~drift.errors.AlembicConfigError`
messages that name the module or file at fault.
"""

from __future__ import annotations

import configparser
import importlib
import logging
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from . import secrets
from .config import Config
from .errors import AlembicConfigError, ModelsError

log = logging.getLogger(__name__)

DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class AlembicProject:
    """The Alembic side of a project: its ini file, scripts and version table."""

    ini: Path
    script: ScriptDirectory
    version_table: str = DEFAULT_VERSION_TABLE
    version_table_schema: str | None = None

    @property
    def alembic_config(self) -> AlembicConfig:
        return _alembic_config(self.ini)


def load_metadata(config: Config) -> MetaData:
    """Import ``model_modules`` (so every model registers), then return the MetaData of ``models``."""
    _project_on_path(config.root)
    for name in config.model_modules:
        _import_tree(name)
    module_name, _, attr = config.models.partition(":")
    module = _import(module_name)
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ModelsError(
                f"models module {module_name!r} has no attribute {attr!r}; "
                f"set [drift] models = module:attribute to your declarative Base or MetaData"
            ) from None
    metadata = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise ModelsError(
            f"{config.models} is a {type(target).__name__}, not a declarative Base or MetaData; "
            "point [drift] models at one of those"
        )
    if not metadata.tables:
        modules = ", ".join(config.model_modules) or "(none)"
        raise ModelsError(
            f"{config.models} defines no tables (model_modules imported: {modules}); refusing to check, "
            "since every table in the database would be reported as drift — list the modules that "
            "define your models in [drift] model_modules"
        )
    return metadata


def load_alembic(config: Config) -> AlembicProject:
    """Open alembic.ini and its script directory; both must exist."""
    ini = config.alembic_ini
    if not ini.is_file():
        raise AlembicConfigError(
            f"alembic.ini not found at {_rel(ini, config.root)}; set [drift] alembic_ini to your Alembic config file"
        )
    try:
        alembic_cfg = AlembicConfig(str(ini))
        location = alembic_cfg.get_main_option("script_location")
    except configparser.Error as exc:  # a malformed file, or a '%' that alembic's interpolation trips on
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AlembicConfigError(
            f"cannot read {_rel(ini, config.root)}: {type(exc).__name__}: {secrets.mask(first)}"
        ) from None
    if not location:
        raise AlembicConfigError(f"{ini.name} has no script_location in its [alembic] section; add one")
    script_path = Path(location)
    if not script_path.is_absolute():
        script_path = ini.parent / script_path
    if not script_path.is_dir():
        raise AlembicConfigError(
            f"script_location {location!r} in {ini.name} does not exist ({_rel(script_path, config.root)}); "
            "fix script_location or run alembic init"
        )
    _anchor(alembic_cfg, script_path)
    try:
        script = ScriptDirectory.from_config(alembic_cfg)
        script.get_heads()  # loads every revision file now, so a broken one is reported here
    except Exception as exc:  # alembic raises CommandError, but a revision file can raise anything
        raise AlembicConfigError(
            f"cannot read the migration scripts in {_rel(script_path, config.root)}: "
            f"{type(exc).__name__}: {secrets.mask(exc)}"
        ) from None
    return AlembicProject(
        ini=ini,
        script=script,
        version_table=config.settings.get("version_table", DEFAULT_VERSION_TABLE),
        version_table_schema=config.settings.get("version_table_schema") or None,
    )


def _alembic_config(ini: Path) -> AlembicConfig:
    alembic_cfg = AlembicConfig(str(ini))
    location = alembic_cfg.get_main_option("script_location")
    if location and not Path(location).is_absolute():
        _anchor(alembic_cfg, ini.parent / location)
    return alembic_cfg


def _anchor(alembic_cfg: AlembicConfig, script_path: Path) -> None:
    # alembic reads a relative script_location from the current directory, so it works only when
    # run from the project folder; drift runs from anywhere (--config) and reads it from the
    # folder of alembic.ini, as its own check above does. '%' is doubled for alembic's interpolation.
    alembic_cfg.set_main_option("script_location", str(script_path).replace("%", "%%"))


def _project_on_path(root: Path) -> None:
    # Models are imported the way the application imports them: from the project's folder.
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ModelsError(
                f"cannot import models module {name!r}: no such module; run drift from the project folder "
                "or fix [drift] models / model_modules"
            ) from None
        raise ModelsError(f"cannot import models module {name!r}: {type(exc).__name__}: {secrets.mask(exc)}") from None
    except Exception as exc:  # a model module can fail in any way; name it and keep going to exit 2
        where, reason = "", str(exc)
        if isinstance(exc, SyntaxError) and exc.filename:
            # str() of a SyntaxError repeats the file and line; say them once.
            where, reason = f" ({Path(exc.filename).name}, line {exc.lineno})", str(exc.msg)
        raise ModelsError(
            f"cannot import models module {name!r}{where}: {type(exc).__name__}: {secrets.mask(reason)}"
        ) from None


def _import_tree(name: str) -> None:
    """Import a module and, for a package, every submodule below it, in name order."""
    module = _import(name)
    path = getattr(module, "__path__", None)
    if path is None:
        return
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        _import_tree(f"{module.__name__}.{info.name}")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
