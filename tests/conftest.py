"""Shared fixtures: a fresh database per test on SQLite, PostgreSQL and MariaDB.

The helpers live in ``dbs.py`` beside this file (``from dbs import temp_database``).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

# pytest's default import mode already puts this folder on sys.path for a
# rootless conftest; make ``import dbs`` work under --import-mode=importlib too.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import dbs  # noqa: E402

DIALECT_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=DIALECT_PARAMS)
def dialect(request: pytest.FixtureRequest) -> str:
    """Each of "sqlite", "postgresql" and "mysql" in turn; server ones carry their marker."""
    return request.param


@pytest.fixture
def db_url(dialect: str, tmp_path: Path) -> Iterator[URL]:
    """URL of a new, empty database for ``dialect``, dropped after the test."""
    with dbs.temp_database(dialect, tmp_path) as url:
        yield url


@pytest.fixture
def make_db(tmp_path: Path) -> Iterator[Callable[[str], URL]]:
    """Factory for tests that need several databases: ``make_db("postgresql") -> URL``.

    Every database it made is dropped after the test.
    """
    from contextlib import ExitStack

    with ExitStack() as stack:

        def make(dialect: str) -> URL:
            return stack.enter_context(dbs.temp_database(dialect, tmp_path))

        yield make


@pytest.fixture(scope="session", autouse=True)
def _sweep_leftover_databases() -> Iterator[None]:
    """At session end, drop any ``drift_t_<this pid>_*`` database a test left behind."""
    yield
    try:
        dropped = dbs.sweep_leftovers()
    except Exception as exc:  # the sweep is a safety net; never fail the session over it
        warnings.warn(f"could not sweep leftover test databases: {exc}", stacklevel=1)
        return
    if dropped:
        warnings.warn(f"dropped leftover test databases: {', '.join(dropped)}", stacklevel=1)
