"""drift: find where a live database has drifted from its SQLAlchemy models.

>>> import drift
>>> report = drift.check("config.ini", "prod")      # doctest: +SKIP
>>> report.verdict                                 # doctest: +SKIP
'1 difference in 1 table'
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, Environment, load_config
from .errors import DriftError
from .findings import DatabaseInfo, Finding, Report, SuggestedMigration
from .check import check

__all__ = [
    "__version__",
    "check",
    "Config",
    "Environment",
    "load_config",
    "DriftError",
    "Finding",
    "Report",
    "DatabaseInfo",
    "SuggestedMigration",
]
