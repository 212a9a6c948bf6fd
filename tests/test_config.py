"""config.ini → Config and Environment: both ways of naming a database, ${VAR}, paths, timeouts, precedence."""

from __future__ import annotations

from textwrap import dedent
from pathlib import Path

import pytest
from click.testing import CliRunner

from drift.cli import cli
from drift.config import Config
from drift.errors import ConfigError, MissingVariableError, UnknownEnvironmentError

DRIFT = "[drift]\nmodels = app.models:Base\n"


def write(folder: Path, text: str, name: str = "config.ini") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    return Config.load(write(tmp_path, text), environ=environ or {})


# --------------------------------------------------------------------------- naming a database


@pytest.mark.parametrize(
    ("section", "url"),
    [
        # url = …: the default driver is filled in.
        ("url = postgresql://app:pw@db.internal:5433/app", "postgresql+psycopg://app:pw@db.internal:5433/app"),
        ("url = mysql://root:pw@127.0.0.1/shop?charset=utf8mb4", "mysql+pymysql://root:pw@127.0.0.1/shop?charset=utf8mb4"),
        ("url = mariadb://root@db/shop", "mariadb+pymysql://root@db/shop"),
        ("url = postgresql+psycopg2://app@db/app", "postgresql+psycopg2://app@db/app"),
        # discrete keys
        (
            "dialect = postgresql\nhost = db.internal\nport = 5433\nuser = app\npassword = pw\ndatabase = app",
            "postgresql+psycopg://app:pw@db.internal:5433/app",
        ),
        (
            "dialect = mysql\ndriver = mysqldb\nhost = db\nuser = root\ndatabase = shop",
            "mysql+mysqldb://root@db/shop",
        ),
        ("dialect = PostgreSQL\nhost = db\ndatabase = app", "postgresql+psycopg://db/app"),
    ],
)
def test_url_and_discrete_keys(tmp_path: Path, section: str, url: str) -> None:
    config = load(tmp_path, DRIFT + "\n[prod]\n" + section + "\n")
    env = config.environment("prod")
    assert env.url.render_as_string(hide_password=False) == url
    assert env.name == "prod"


def test_both_url_and_discrete_keys_is_an_error(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "\n[prod]\nurl = postgresql://db/app\nhost = other\nuser = app\n")
    with pytest.raises(ConfigError) as raised:
        config.environment("prod")
    assert str(raised.value) == "[prod] has both url and host, user; keep one way of naming the database"


def test_not_a_url(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "\n[prod]\nurl = not a url\n")
    with pytest.raises(ConfigError, match=r"^\[prod\] url = 'not a url' is not a database URL \("):
        config.environment("prod")


def test_percent_in_password_is_not_interpolated(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        DRIFT + dedent("""
        [a]
        dialect = postgresql
        host = db
        user = app
        password = 50%off%(x)s%%
        database = app

        [b]
        url = postgresql://app:50%25off@db/app
        """),
    )
    assert config.environment("a").url.password == "50%off%(x)s%%"
    assert config.environment("b").url.password == "50%off"


# --------------------------------------------------------------------------- ${VAR}


def test_variables_and_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        DRIFT + dedent("""
        [prod]
        dialect = postgresql
        host = ${DB_HOST:-localhost}
        port = ${DB_PORT:-5432}
        user = ${DB_USER}
        password = ${DB_PASSWORD}
        database = ${DB_NAME:-}app
        """),
        environ={"DB_USER": "app", "DB_PASSWORD": "S3cr3t-pw-9xq", "DB_PORT": "6543"},
    )
    url = config.environment("prod").url
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "localhost", 6543, "app", "S3cr3t-pw-9xq", "app",
    )


def test_a_set_but_empty_variable_is_used_not_its_default(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "\n[t]\ndialect = sqlite\ndatabase = ${NAME:-fallback.db}x.db\n", {"NAME": ""})
    assert Path(config.environment("t").url.database).name == "x.db"


def test_missing_variable_is_named(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "\n[prod]\nurl = postgresql://app:${PROD_DB_PASSWORD}@db/app\n")
    with pytest.raises(MissingVariableError) as raised:
        config.environment("prod")
    assert str(raised.value) == (
        "[prod] url uses ${PROD_DB_PASSWORD}, but the environment variable PROD_DB_PASSWORD is not set; "
        "export PROD_DB_PASSWORD=… or write the value into the file"
    )


def test_missing_variable_in_another_section_does_not_matter(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        DRIFT + dedent("""
        [dev]
        dialect = sqlite
        database = dev.db

        [prod]
        dialect = postgresql
        password = ${PROD_DB_PASSWORD}
        """),
    )
    assert config.environment_names == ("dev", "prod")
    assert config.environment("dev").url.database == str(tmp_path / "dev.db")
    with pytest.raises(MissingVariableError, match="PROD_DB_PASSWORD"):
        config.environment("prod")


def test_missing_variable_in_drift_section_fails_the_load(tmp_path: Path) -> None:
    with pytest.raises(MissingVariableError) as raised:
        load(tmp_path, DRIFT + "report_dir = ${REPORTS}\n")
    assert str(raised.value).startswith("[drift] report_dir uses ${REPORTS}, but the environment variable REPORTS")


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("dialect = sqlite\ndatabase = dev.db", "dev.db"),
        ("dialect = sqlite\ndatabase = data/dev.db", "data/dev.db"),
        ("url = sqlite:///data/dev.db", "data/dev.db"),
        ("url = sqlite+pysqlite:///dev.db", "dev.db"),
    ],
)
def test_relative_sqlite_path_is_anchored_at_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, expected: str
) -> None:
    write(tmp_path / "project", DRIFT + "\n[dev]\n" + section + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = Config.load("../project/config.ini", environ={})
    url = config.environment("dev").url
    assert url.drivername == "sqlite+pysqlite"
    assert url.database == str(tmp_path / "project" / expected)


@pytest.mark.parametrize(
    ("section", "database"),
    [
        ("url = sqlite:////srv/app/dev.db", "/srv/app/dev.db"),
        ("url = sqlite:///:memory:", ":memory:"),
        ("dialect = sqlite\ndatabase = /srv/app/dev.db", "/srv/app/dev.db"),
    ],
)
def test_absolute_and_memory_sqlite_paths_are_kept(tmp_path: Path, section: str, database: str) -> None:
    config = load(tmp_path, DRIFT + "\n[dev]\n" + section + "\n")
    assert config.environment("dev").url.database == database


def test_drift_paths_and_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "[drift]\nmodels = app.models.base:Base\nalembic_ini = db/alembic.ini\n")
    assert config.path == tmp_path / "config.ini"
    assert config.models == "app.models.base:Base"
    assert config.model_modules == ("app",)  # the models module's top-level package
    assert config.alembic_ini == tmp_path / "db" / "alembic.ini"
    assert config.report_dir == tmp_path / "reports"
    assert config.command("upgrade head", "prod") == "alembic -x env=prod upgrade head"


def test_model_modules_list(tmp_path: Path) -> None:
    config = load(tmp_path, "[drift]\nmodels = app.base:Base\nmodel_modules = app.users, app.billing\n  app.audit\n")
    assert config.model_modules == ("app.users", "app.billing", "app.audit")


@pytest.mark.parametrize("models", ["app.models", "app.models:", ":Base"])
def test_models_must_be_module_and_attribute(tmp_path: Path, models: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, f"[drift]\nmodels = {models}\n")
    assert str(raised.value) == (
        f"[drift] models = {models!r} in config.ini is not of the form module:attribute (for example models.base:Base)"
    )


# --------------------------------------------------------------------------- which file


@pytest.fixture
def two_configs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three config.ini files, each with one differently named environment."""
    cwd = write(tmp_path / "cwd", DRIFT + "\n[from_cwd]\nurl = sqlite:///a.db\n")
    option = write(tmp_path / "opt", DRIFT + "\n[from_option]\nurl = sqlite:///b.db\n")
    variable = write(tmp_path / "var", DRIFT + "\n[from_variable]\nurl = sqlite:///c.db\n")
    return cwd, option, variable


def test_config_file_precedence(two_configs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, option, variable = two_configs
    monkeypatch.chdir(cwd.parent)
    assert Config.load(None, environ={}).environment_names == ("from_cwd",)
    assert Config.load(None, environ={"DRIFT_CONFIG": str(variable)}).environment_names == ("from_variable",)
    assert Config.load(option, environ={"DRIFT_CONFIG": str(variable)}).environment_names == ("from_option",)


@pytest.mark.parametrize(
    ("args", "variable", "shown"),
    [
        ([], False, "from_cwd"),
        ([], True, "from_variable"),
        (["--config", "OPTION"], True, "from_option"),
        (["--config", "OPTION"], False, "from_option"),
    ],
)
def test_config_file_precedence_on_the_command_line(
    two_configs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, args: list[str], variable: bool, shown: str
) -> None:
    cwd, option, var = two_configs
    monkeypatch.chdir(cwd.parent)
    monkeypatch.delenv("DRIFT_CONFIG", raising=False)
    args = [str(option) if a == "OPTION" else a for a in args]
    result = CliRunner().invoke(cli, ["envs", *args], env={"DRIFT_CONFIG": str(var)} if variable else {})
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [shown]


# --------------------------------------------------------------------------- timeouts and ports


def test_timeouts_from_drift_section_and_per_environment(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        DRIFT + dedent("""
        statement_timeout = 12

        [a]
        url = sqlite:///a.db

        [b]
        url = sqlite:///b.db
        statement_timeout = 2.5
        connect_timeout = 4
        """),
    )
    a, b = config.environment("a"), config.environment("b")
    assert (a.connect_timeout, a.statement_timeout) == (10.0, 12.0)
    assert (b.connect_timeout, b.statement_timeout) == (4.0, 2.5)


def test_default_timeouts(tmp_path: Path) -> None:
    env = load(tmp_path, DRIFT + "\n[a]\nurl = sqlite:///a.db\n").environment("a")
    assert (env.connect_timeout, env.statement_timeout) == (10.0, 30.0)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "86401", "nan", "inf", "1e9"])
def test_invalid_timeout(tmp_path: Path, value: str) -> None:
    config = load(tmp_path, DRIFT + f"\n[a]\nurl = sqlite:///a.db\nstatement_timeout = {value}\n")
    with pytest.raises(ConfigError) as raised:
        config.environment("a")
    assert str(raised.value) == f"[a] statement_timeout = {value!r} must be a number of seconds between 0 and 86400"


def test_invalid_timeout_in_drift_section_is_reported_for_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "connect_timeout = later\n\n[a]\nurl = sqlite:///a.db\n")
    with pytest.raises(ConfigError, match=r"^\[a\] connect_timeout = 'later' must be a number of seconds"):
        config.environment("a")


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-5", "54 32", "5432.0"])
def test_invalid_port(tmp_path: Path, port: str) -> None:
    config = load(tmp_path, DRIFT + f"\n[a]\ndialect = postgresql\nhost = db\nport = {port}\n")
    with pytest.raises(ConfigError) as raised:
        config.environment("a")
    assert str(raised.value) == f"[a] port = {port!r} is not a port number (1-65535)"


# --------------------------------------------------------------------------- which sections are environments


def test_only_sections_naming_a_database_are_environments(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        DRIFT + dedent("""
        [logging]
        level = INFO

        [features]
        signup = on

        [drift:plugins]
        url = ignored://

        [zeta]
        url = sqlite:///z.db

        [alpha]
        dialect = postgresql
        host = db
        """),
    )
    assert config.environment_names == ("alpha", "zeta")
    with pytest.raises(UnknownEnvironmentError) as raised:
        config.environment("logging")
    assert str(raised.value) == "unknown environment 'logging' in config.ini; known environments: alpha, zeta"


def test_no_environments_at_all(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT)
    with pytest.raises(UnknownEnvironmentError) as raised:
        config.environment("prod")
    assert str(raised.value) == "unknown environment 'prod' in config.ini; known environments: none"


def test_keys_keep_working_whatever_their_case(tmp_path: Path) -> None:
    config = load(tmp_path, DRIFT + "\n[prod]\nDialect = postgresql\nHOST = db\nDatabase = app\n")
    assert config.environment("prod").url.render_as_string() == "postgresql+psycopg://db/app"


def test_byte_order_mark_from_a_windows_editor_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_bytes(b"\xef\xbb\xbf[drift]\r\nmodels = app:Base\r\n\r\n[dev]\r\nurl = sqlite:///d.db\r\n")
    config = Config.load(tmp_path / "config.ini", environ={})
    assert (config.models, config.environment_names) == ("app:Base", ("dev",))


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_bytes(b"[drift]\nmodels = app:Base\n; caf\xe9\n")
    with pytest.raises(ConfigError) as raised:
        Config.load(tmp_path / "config.ini", environ={})
    assert str(raised.value) == "config.ini is not valid UTF-8 (byte 31); save it as UTF-8"
