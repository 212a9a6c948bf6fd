"""How far a comparison has got: tables reflected, tables compared.

A check of a few thousand tables takes a while; someone watching should see
it move. :func:`reporting` sets, for the current thread, a callback that this
plugin calls as alembic reflects and compares each table:
``callback(stage, done, total)`` with ``stage`` ``"reflected"`` or
``"compared"``. Without a callback the plugin does nothing at all. The CLI
turns the calls into one updating line on stderr, on a terminal only.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator

from alembic.autogenerate.api import AutogenContext
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult

#: ``callback(stage, done, total)``.
ProgressCallback = Callable[[str, int, int], None]

_local = threading.local()


@contextlib.contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    """Report the progress of comparisons made by this thread, meanwhile, to ``callback``."""
    previous = getattr(_local, "state", None)
    _local.state = State(callback) if callback is not None else None
    try:
        yield
    finally:
        _local.state = previous


class State:
    def __init__(self, callback: ProgressCallback) -> None:
        self.callback = callback
        self.reflected = 0
        self.reflect_total = 0
        self.compared = 0
        self.compare_total = 0

    def tell(self, stage: str, done: int, total: int) -> None:
        try:
            self.callback(stage, done, total)
        except Exception:  # progress is a courtesy: it never ends a check
            pass

    def redirect(self, callback: ProgressCallback) -> None:
        """Send what is counted from now on to ``callback`` (a forked worker's pipe to its parent)."""
        self.callback = callback

    def finish(self) -> None:
        """Every table is reflected and compared: say so, then count nothing more in this comparison."""
        self.tell("reflected", self.reflect_total, self.reflect_total)
        self.tell("compared", self.compare_total, self.compare_total)
        self.callback = _ignore


def _ignore(stage: str, done: int, total: int) -> None:
    pass


def current() -> State | None:
    """The progress state of this thread's comparison, if it reports any."""
    return getattr(_local, "state", None)


def start(autogen_context: AutogenContext, upgrade_ops: Any, schemas: set[str | None]) -> PriorityDispatchResult:
    """Schema level, first: count what is to do and watch the inspector reflect it."""
    state: State | None = getattr(_local, "state", None)
    if state is None or autogen_context.connection is None:
        return PriorityDispatchResult.CONTINUE
    inspector = autogen_context.inspector
    in_database = {(schema, name) for schema in schemas for name in inspector.get_table_names(schema=schema)}
    default = autogen_context.dialect.default_schema_name if autogen_context.dialect is not None else None
    in_models = {(None if t.schema == default else t.schema, t.name) for t in autogen_context.sorted_tables}
    state.reflected, state.compared = 0, 0
    state.reflect_total = len(in_database)
    state.compare_total = len(in_database | in_models)
    reflect = inspector.reflect_table

    @functools.wraps(reflect)
    def counted(*args: Any, **kw: Any) -> Any:
        result = reflect(*args, **kw)
        state.reflected += 1
        state.tell("reflected", state.reflected, max(state.reflect_total, state.reflected))
        return result

    inspector.reflect_table = counted  # type: ignore[method-assign]
    return PriorityDispatchResult.CONTINUE


def table_done(autogen_context: AutogenContext, modify_table_ops: Any, schema: str | None, tname: str,
               conn_table: Any, metadata_table: Any) -> PriorityDispatchResult:
    """Table level, last: one more table compared."""
    state: State | None = getattr(_local, "state", None)
    if state is not None:
        state.compared += 1
        state.tell("compared", state.compared, max(state.compare_total, state.compared))
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(start, "schema", "progress", priority=DispatchPriority.FIRST)
    plugin.add_autogenerate_comparator(table_done, "table", "progress", priority=DispatchPriority.LAST)
