"""Every condition under which drift cannot check, as one exception family.

The CLI catches only :class:`DriftError`; each subclass names a condition and
its message says what happened and how to fix it, on one line. Messages are
masked before they are raised (see :mod:`drift.secrets`).
"""

from __future__ import annotations


class DriftError(Exception):
    """Base class: drift could not do what was asked. Exit status 2."""

    exit_status = 2

    def __init__(self, message: str, *, environment: str | None = None) -> None:
        # One line, always: a multi-line driver message would break logs and tickets.
        message = " ".join(str(message).split())
        super().__init__(message)
        self.environment = environment

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(DriftError):
    """config.ini is missing, unreadable or malformed, or a value is invalid."""


class UnknownEnvironmentError(ConfigError):
    """The requested environment has no section in config.ini."""


class MissingVariableError(ConfigError):
    """A ``${VAR}`` in config.ini names an environment variable that is not set."""


class ConnectError(DriftError):
    """The database could not be reached, refused the login, or the file is missing."""


class CheckTimeoutError(ConnectError):
    """A statement or the connection attempt exceeded its configured timeout."""


class ModelsError(DriftError):
    """The models module failed to import or defines no tables."""


class AlembicConfigError(DriftError):
    """alembic.ini or its script_location is missing or unusable."""


class ReportWriteError(DriftError):
    """A report could not be written; any earlier report is left as it was."""


def first_line(exc: object) -> str:
    """The first non-blank line of an exception's text, white space folded; its type name when empty.

    Driver errors span lines (DETAIL, HINT, the SQL sent); a message drift
    prints keeps the line that says what went wrong.
    """
    for line in str(exc).strip().splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(exc).__name__
