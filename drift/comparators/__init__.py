"""Alembic autogenerate plugins: what alembic's own comparison misses or misreads.

Importing this package registers one alembic plugin per concern (alembic
1.18+ plugin mechanism); ``"drift.*"`` in ``autogenerate_plugins`` enables
them all, ``"~drift.renames"`` leaves one out:

==========================  ==================================================
``drift.prefetch``          reflection in a fixed number of round trips
``drift.progress``          tables reflected and compared, for a progress line
``drift.partitions``        tables compared in forked workers, when asked for
``drift.defaults``          server defaults compared by meaning per dialect
``drift.types``             types alembic lets through (UNSIGNED, unknown types)
``drift.primary_keys``      primary key moved to other columns, or renamed
``drift.checks``            CHECK constraints added, removed, changed, renamed
``drift.enums``             PostgreSQL enum values added, removed, reordered
``drift.indexes``           partial-index predicates changed
``drift.computed``          generated-column expressions changed
``drift.renames``           index / constraint renamed, not dropped and added
==========================  ==================================================

drift enables them in the MigrationContext it compares with. A project's own
``alembic revision --autogenerate`` can use them too; in ``env.py``::

    import drift.comparators  # registers the plugins

    context.configure(
        ...,
        autogenerate_plugins=["alembic.autogenerate.*", "drift.*"],
    )

``drift.checks`` replaces ``alembic.ext.checkconstraint_byname``: enable one
of the two, not both.

Renamed columns and tables are a different matter — only a guess — and are
marked on the findings afterwards: :func:`annotate_renames`.
"""

from __future__ import annotations

from types import ModuleType

from alembic.runtime.plugins import Plugin

from . import checks, computed, defaults, enums, indexes, names, partitions, prefetch, primary_keys, progress, types
from .describe import describe
from .ops import OPS
from .renames import annotate_renames

#: Plugin name → the module whose ``setup(plugin)`` registers its comparators.
PLUGINS: dict[str, ModuleType] = {
    "drift.prefetch": prefetch,
    "drift.progress": progress,
    "drift.partitions": partitions,  # after progress: its workers report what that counts
    "drift.defaults": defaults,
    "drift.types": types,
    "drift.primary_keys": primary_keys,
    "drift.checks": checks,
    "drift.enums": enums,
    "drift.indexes": indexes,
    "drift.computed": computed,
    "drift.renames": names,
}

#: The ``autogenerate_plugins`` option drift compares with.
AUTOGENERATE_PLUGINS: list[str] = ["alembic.autogenerate.*", "drift.*"]


def _register() -> None:
    for name, module in PLUGINS.items():
        try:
            Plugin.setup_plugin_from_module(module, name)
        except ValueError:
            # Already registered: this package was imported once before (a reload).
            pass


_register()

__all__ = ["AUTOGENERATE_PLUGINS", "OPS", "PLUGINS", "annotate_renames", "describe"]
