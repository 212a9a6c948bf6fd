"""config.ini → one frozen :class:`Config` with an :class:`Environment` per section.

Precedence, highest first: a command-line option, an environment variable
(``DRIFT_CONFIG`` for the file), the value in config.ini, the default here.

The file is the one the application and ``alembic/env.py`` already read:
``[drift]`` holds drift's own settings, and every other section that names a
database (``url = …`` or ``dialect = …``) is an environment. ``${VAR}`` in any
value is read from the process environment; a missing variable is an error
that names it. Every password seen here is registered with
:mod:`drift.secrets`, so it is masked wherever it might surface.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from . import secrets
from .errors import ConfigError, MissingVariableError, UnknownEnvironmentError

DEFAULT_CONFIG = "config.ini"
DRIFT_SECTION = "drift"

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_STATEMENT_TIMEOUT = 30.0
DEFAULT_CONNECT_RETRIES = 2
DEFAULT_RETRY_BACKOFF = 1.0
DEFAULT_ALEMBIC_COMMAND = "alembic -x env={env}"

#: The driver drift installs for each dialect (extras ``postgres`` and ``mysql``).
DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "sqlite": "pysqlite"}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DISCRETE_KEYS = ("dialect", "driver", "host", "port", "user", "password", "database")
_SECRET_KEYS = ("password",)
_URL_KEYS = ("url", "scratch_url")
# scheme://user:PASSWORD@ before ${VAR} is expanded: a ${…} may hold any character but '}'.
_RAW_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#]*:(?P<pw>(?:\$\{[^}]*\}|[^/?#@])*)@")


@dataclass(frozen=True)
class Environment:
    """One database to check. ``repr`` and :attr:`masked_url` never show the password."""

    name: str
    url: URL = field(repr=False)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    scratch_url: URL | None = field(default=None, repr=False)
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Extra connection attempts after a transient failure, waiting retry_backoff, then twice that, ...
    connect_retries: int = DEFAULT_CONNECT_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def __repr__(self) -> str:
        return (
            f"Environment(name={self.name!r}, url={self.masked_url!r}, "
            f"connect_timeout={self.connect_timeout!r}, statement_timeout={self.statement_timeout!r})"
        )


@dataclass(frozen=True)
class Config:
    """Everything drift reads from config.ini, with paths resolved against its folder."""

    path: Path
    models: str
    model_modules: tuple[str, ...]
    alembic_ini: Path
    report_dir: Path
    alembic_command: str
    sections: Mapping[str, Mapping[str, str]] = field(repr=False)
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: Sections named ``drift:…`` (``[drift:ignore]``…), as written: keys keep their case, no ``${VAR}``.
    drift_sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.sections))

    def environment(self, name: str) -> Environment:
        """The named environment, with ``${VAR}`` resolved now: another section's missing variable is no error."""
        try:
            raw = self.sections[name]
        except KeyError:
            known = ", ".join(self.environment_names) or "none"
            raise UnknownEnvironmentError(
                f"unknown environment {name!r} in {self.path.name}; known environments: {known}"
            ) from None
        return _environment(name, raw, self.settings, self.environ, self.root)

    def command(self, template: str, env: str) -> str:
        """``alembic -x env=prod upgrade head`` for ``template='upgrade head'``."""
        return f"{self.alembic_command.format(env=env)} {template}"

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> "Config":
        """Read and validate config.ini. ``path`` falls back to ``$DRIFT_CONFIG``, then ``config.ini``."""
        environ = os.environ if environ is None else environ
        chosen = Path(path or environ.get("DRIFT_CONFIG") or DEFAULT_CONFIG)
        parser = _read(chosen)
        resolved = chosen.resolve()
        root = resolved.parent

        drift = {k: _expand(v, environ, DRIFT_SECTION, k) for k, v in _section(parser, DRIFT_SECTION).items()}
        models = drift.get("models", "models.base:Base").strip()
        if ":" not in models or not all(models.split(":", 1)):
            raise ConfigError(
                f"[drift] models = {models!r} in {chosen.name} is not of the form module:attribute "
                "(for example models.base:Base)"
            )
        default_modules = models.split(":", 1)[0].split(".")[0]
        model_modules = tuple(_split_list(drift.get("model_modules", default_modules)))

        sections: dict[str, dict[str, str]] = {}
        reserved: dict[str, dict[str, str]] = {}
        for section in parser.sections():
            if section.startswith(DRIFT_SECTION + ":"):
                # Patterns such as Users.Legacy_* are case-sensitive: not through _section's lower().
                reserved[section] = dict(parser.items(section))
                continue
            if section == DRIFT_SECTION:
                continue
            raw = _section(parser, section)
            if "url" not in raw and "dialect" not in raw:
                continue  # an application section (logging, features…), not a database
            sections[section] = raw

        return cls(
            path=resolved,
            models=models,
            model_modules=model_modules,
            alembic_ini=root / drift.get("alembic_ini", "alembic.ini"),
            report_dir=root / drift.get("report_dir", "reports"),
            alembic_command=drift.get("alembic_command", DEFAULT_ALEMBIC_COMMAND),
            sections=sections,
            settings=drift,
            environ=dict(environ),
            drift_sections=reserved,
        )


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Shorthand for :meth:`Config.load`."""
    return Config.load(path)


def database_url(section: str, path: str | os.PathLike[str] | None = None) -> URL:
    """The SQLAlchemy URL of one environment, for ``alembic/env.py`` and the application.

    Reading the URL through drift keeps env.py, the application and the
    check in agreement on what ``[prod]`` means.
    """
    return Config.load(path).environment(section).url


def mask_url(url: URL | str) -> str:
    if isinstance(url, str):
        return secrets.mask(url)
    return secrets.mask(url.render_as_string(hide_password=True))


def _read(path: Path) -> configparser.ConfigParser:
    # No interpolation: '%' is common in passwords and means nothing here.
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00no-defaults")
    parser.optionxform = str  # keys keep their case: ${VAR} names are case-sensitive elsewhere
    if not path.is_file():
        hint = "pass --config PATH or set DRIFT_CONFIG" if path.name == DEFAULT_CONFIG else "check the path"
        raise ConfigError(f"config file {str(path)!r} not found; {hint}")
    try:
        # utf-8-sig: Windows editors start the file with a byte-order mark, which would hide [drift].
        with open(path, encoding="utf-8-sig") as fh:
            parser.read_file(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except configparser.Error as exc:
        line, reason = _parse_problem(exc)
        where = f" at line {line}" if line else ""
        raise ConfigError(f"{path.name} is malformed{where}: {secrets.mask(reason)}; fix that line") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return parser


def _parse_problem(exc: configparser.Error) -> tuple[int | None, str]:
    """The line configparser stopped at and what is wrong with it, without its file-path preamble."""
    errors = getattr(exc, "errors", None)  # ParsingError: [(line, the line's text), ...]
    if errors and not isinstance(exc, configparser.MissingSectionHeaderError):
        # Not the line's text: a mistyped "password S3cret" line must not be echoed.
        return errors[0][0], "expected key = value, a [section] header or an indented continuation"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = re.sub(r"^While reading from .*? \[line\s+\d+\]: ", "", first).rstrip(".")
    return getattr(exc, "lineno", None), first


def _section(parser: configparser.ConfigParser, name: str) -> dict[str, str]:
    if not parser.has_section(name):
        return {}
    return {k.lower(): v for k, v in parser.items(name)}


def _expand(value: str, environ: Mapping[str, str], section: str, key: str, *, secret: bool = False) -> str:
    """``value`` with each ``${VAR}`` replaced; with ``secret``, the values used are registered as secrets.

    In a URL only a variable in the password's place is a secret: ``${DB_HOST}`` must stay
    readable in error messages (with a short host name it would be masked all over them).
    """
    password_span = _url_password_span(value) if key in _URL_KEYS else None

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            found = environ[name]
        elif default is not None:
            found = default
        else:
            raise MissingVariableError(
                f"[{section}] {key} uses ${{{name}}}, but the environment variable {name} is not set; "
                f"export {name}=… or write the value into the file"
            )
        if secret and (key not in _URL_KEYS or _in_password(match, password_span) or "://" in found):
            # In a URL: the password's place, or a variable holding a whole URL (which may not parse).
            secrets.register(found)
        return found

    return _VAR.sub(substitute, value)


def _in_password(match: re.Match[str], span: tuple[int, int] | None) -> bool:
    return span is not None and span[0] <= match.start() < span[1]


def _url_password_span(raw: str) -> tuple[int, int] | None:
    """Where the password of ``scheme://user:password@host`` is in a URL not yet expanded; None if it has none."""
    match = _RAW_URL_PASSWORD.match(raw.strip())
    if match is None:
        return None
    offset = len(raw) - len(raw.lstrip())
    return match.start("pw") + offset, match.end("pw") + offset


def _environment(
    name: str, raw: Mapping[str, str], drift: Mapping[str, str], environ: Mapping[str, str], root: Path
) -> Environment:
    values: dict[str, str] = {}
    for key, value in raw.items():
        secret = key in _SECRET_KEYS or key in _URL_KEYS
        values[key] = _expand(value, environ, name, key, secret=secret)
        if key in _SECRET_KEYS:
            secrets.register(values[key])

    if "url" in values:
        url = _parse_url(values["url"], name, "url")
        clash = [k for k in _DISCRETE_KEYS if k in values]
        if clash:
            raise ConfigError(f"[{name}] has both url and {', '.join(clash)}; keep one way of naming the database")
    else:
        url = _discrete_url(name, values)
    url = _normalise(url, root)

    scratch_raw = values.get("scratch_url") or drift.get("scratch_url")
    scratch = _normalise(_parse_url(scratch_raw, name, "scratch_url"), root) if scratch_raw else None

    return Environment(
        name=name,
        url=url,
        connect_timeout=_seconds(values, drift, name, "connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        statement_timeout=_seconds(values, drift, name, "statement_timeout", DEFAULT_STATEMENT_TIMEOUT),
        scratch_url=scratch,
        settings=values,
        connect_retries=_retries(values, drift, name),
        retry_backoff=_seconds(values, drift, name, "retry_backoff", DEFAULT_RETRY_BACKOFF),
    )


def _parse_url(text: str, section: str, key: str) -> URL:
    try:
        url = make_url(text.strip())
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"[{section}] {key} = {secrets.mask(text.strip())!r} is not a database URL "
            f"({secrets.mask(exc)}); write it as dialect+driver://user:password@host:port/database"
        ) from None
    if url.password:
        secrets.register(str(url.password))
    return url


def _discrete_url(section: str, values: Mapping[str, str]) -> URL:
    dialect = values.get("dialect", "").strip().lower()
    if not dialect:
        raise ConfigError(f"[{section}] needs url = … or dialect = … to name its database")
    driver = values.get("driver", "").strip() or None
    port_text = values.get("port", "").strip()
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"[{section}] port = {port_text!r} is not a port number (1-65535)")
        port = int(port_text)
    return URL.create(
        dialect if not driver else f"{dialect}+{driver}",
        username=values.get("user") or None,
        password=values.get("password") or None,
        host=values.get("host") or None,
        port=port,
        database=values.get("database") or None,
    )


def _normalise(url: URL, root: Path) -> URL:
    """Fill in drift's default driver and anchor a relative SQLite path at config.ini's folder."""
    backend = url.get_backend_name()
    if backend not in DEFAULT_DRIVERS:
        return url
    if "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+{DEFAULT_DRIVERS[backend]}")
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(root / path))
    return url


def _seconds(values: Mapping[str, str], drift: Mapping[str, str], section: str, key: str, default: float) -> float:
    text = values.get(key) or drift.get(key)
    if text is None or text.strip() == "":
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        raise ConfigError(f"[{section}] {key} = {text!r} must be a number of seconds between 0 and 86400")
    return seconds


def _retries(values: Mapping[str, str], drift: Mapping[str, str], section: str) -> int:
    text = values.get("connect_retries") or drift.get("connect_retries")
    if text is None or text.strip() == "":
        return DEFAULT_CONNECT_RETRIES
    if not text.strip().isdigit() or int(text) > 10:
        raise ConfigError(f"[{section}] connect_retries = {text!r} must be a whole number from 0 to 10")
    return int(text)


def _split_list(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text) if part]


def as_dict(env: Environment) -> dict[str, Any]:
    """A printable summary of one environment (masked), for ``drift envs``."""
    return {"name": env.name, "url": env.masked_url, "dialect": env.dialect}
