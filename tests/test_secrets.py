"""drift.secrets: passwords never leave the process, and ordinary words survive masking."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift import secrets
from drift.config import Config, as_dict
from drift.secrets import MASK, mask, register


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty registry per test: a short secret registered here must not mask other tests' output."""
    monkeypatch.setattr(secrets, "_secrets", set())
    monkeypatch.setattr(secrets, "_pattern", None)
    yield


URLS = [
    ("postgresql+psycopg://app:hunter22@db.example.com:5432/app", "postgresql+psycopg://app:***@db.example.com:5432/app"),
    ("mysql+pymysql://root:p%40ss@127.0.0.1/test?charset=utf8mb4", "mysql+pymysql://root:***@127.0.0.1/test?charset=utf8mb4"),
    ("postgresql://app:@db/app", "postgresql://app:***@db/app"),
    # No password: nothing to hide, nothing changed.
    ("postgresql://app@db/app", "postgresql://app@db/app"),
    ("sqlite+pysqlite:////srv/app/dev.db", "sqlite+pysqlite:////srv/app/dev.db"),
    ("connecting to postgresql://u:pw1@h/d failed", "connecting to postgresql://u:***@h/d failed"),
    ("two: a://u:x1@h and b://v:y2@i", "two: a://u:***@h and b://v:***@i"),
]


@pytest.mark.parametrize(("text", "masked"), URLS)
def test_url_passwords_are_masked_without_registration(text: str, masked: str) -> None:
    assert mask(text) == masked


KEY_VALUES = [
    ("host=db user=app password=hunter22 dbname=app", "host=db user=app password=*** dbname=app"),
    ("host=db password='two words' dbname=app", "host=db password=*** dbname=app"),
    ('Server=db;Uid=app;Pwd="x y";Database=app', "Server=db;Uid=app;Pwd=***;Database=app"),
    ("PASSWORD = hunter22", "PASSWORD=***"),
    ("passwd=hunter22&user=app", "passwd=***&user=app"),
    ("no secrets here: password is required", "no secrets here: password is required"),
]


@pytest.mark.parametrize(("text", "masked"), KEY_VALUES)
def test_key_value_passwords_are_masked_without_registration(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_registered_secret_is_masked_anywhere() -> None:
    register("S3cr3t-pw-9xq")
    assert mask("FATAL: password S3cr3t-pw-9xq rejected") == f"FATAL: password {MASK} rejected"
    assert mask("xxS3cr3t-pw-9xqyy") == f"xx{MASK}yy"
    assert mask(ValueError("bad S3cr3t-pw-9xq")) == f"bad {MASK}"


@pytest.mark.parametrize(
    "spelling",
    [
        "p@ss w%rd!",  # as typed
        "p%40ss%20w%25rd%21",  # urllib.parse.quote
        "p%40ss+w%25rd%21",  # quote_plus (form encoding)
        "p%40ss w%25rd%21",  # SQLAlchemy's URL rendering (spaces left as they are)
    ],
)
def test_every_url_encoded_spelling_of_a_secret_is_masked(spelling: str) -> None:
    register("p@ss w%rd!")
    assert mask(f"before {spelling} after") == f"before {MASK} after"


def test_registering_twice_or_nothing_changes_nothing() -> None:
    register(None)
    register("")
    register("   ")
    assert secrets._pattern is None
    assert mask("a b c") == "a b c"
    register("S3cr3t-pw-9xq")
    register("S3cr3t-pw-9xq")
    assert mask("S3cr3t-pw-9xq S3cr3t-pw-9xq") == f"{MASK} {MASK}"


def test_masking_is_idempotent() -> None:
    register("S3cr3t-pw-9xq")
    once = mask("postgresql://u:S3cr3t-pw-9xq@h/d password=S3cr3t-pw-9xq")
    assert once == "postgresql://u:***@h/d password=***"
    assert mask(once) == once


# --------------------------------------------------------------------------- short secrets


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://app:ab@db/app", "postgresql://app:***@db/app"),
        ("host=db password=ab", "host=db password=***"),
        ("login with 'ab' refused", "login with '***' refused"),
        ("ab", MASK),
        ("(ab)", f"({MASK})"),
        # Words that merely contain it are left alone.
        ("table about abc cab label", "table about abc cab label"),
        ("ab_c c_ab ab1 1ab", "ab_c c_ab ab1 1ab"),
    ],
)
def test_short_secret_is_masked_only_as_a_whole_token(text: str, masked: str) -> None:
    register("ab")
    assert mask(text) == masked


def test_long_secret_is_masked_inside_words_too() -> None:
    register("abcdef")
    assert mask("xabcdefx") == f"x{MASK}x"
    register("wxyz5")  # five characters: still a short one
    assert mask("awxyz5b wxyz5") == f"awxyz5b {MASK}"


def test_longer_secret_wins_over_a_shorter_one_inside_it() -> None:
    register("ab")
    register("ab-cd-ef-gh")
    assert mask("ab-cd-ef-gh") == MASK


def test_short_password_from_config_is_masked_where_it_matters(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(
        "[drift]\nmodels = m:Base\n\n"
        "[t]\ndialect = postgresql\nhost = db\nuser = app\npassword = ab\ndatabase = app\n",
        encoding="utf-8",
    )
    env = Config.load(tmp_path / "config.ini", environ={}).environment("t")
    assert env.masked_url == "postgresql+psycopg://app:***@db/app"
    assert mask(env.url.render_as_string(hide_password=False)) == "postgresql+psycopg://app:***@db/app"
    assert mask("the table about abc is there") == "the table about abc is there"


# --------------------------------------------------------------------------- objects that carry passwords


def test_environment_never_shows_its_password(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(
        "[drift]\nmodels = m:Base\n\n"
        "[a]\nurl = postgresql://app:S3cr3t-pw-9xq@db/app\n\n"
        "[b]\ndialect = mysql\nhost = db\nuser = root\npassword = ${PW}\ndatabase = app\n",
        encoding="utf-8",
    )
    config = Config.load(tmp_path / "config.ini", environ={"PW": "An0ther-pw-7yz"})
    for name, secret in (("a", "S3cr3t-pw-9xq"), ("b", "An0ther-pw-7yz")):
        env = config.environment(name)
        shown = [repr(env), str(env), env.masked_url, str(as_dict(env)), repr(config)]
        assert all(secret not in text for text in shown), shown
        assert env.url.password == secret  # still there for connecting
    assert repr(config.environment("a")) == (
        "Environment(name='a', url='postgresql+psycopg://app:***@db/app', "
        "connect_timeout=10.0, statement_timeout=30.0)"
    )


def test_logging_formatter_masks_message_arguments_and_traceback() -> None:
    register("S3cr3t-pw-9xq")
    formatter = secrets.MaskingFormatter("%(levelname)s %(message)s")
    try:
        raise RuntimeError("failed with S3cr3t-pw-9xq")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "drift", logging.ERROR, __file__, 1, "connecting to %s", ("postgresql://u:other-pw@h/d",), sys.exc_info()
        )
    text = formatter.format(record)
    assert text.startswith("ERROR connecting to postgresql://u:***@h/d\nTraceback")
    assert "S3cr3t-pw-9xq" not in text
    assert "other-pw" not in text
    assert text.endswith(f"RuntimeError: failed with {MASK}")


# --------------------------------------------------------------------------- which ${VAR} values are secrets


def url_environment(tmp_path: Path, url: str, environ: dict[str, str]) -> None:
    (tmp_path / "config.ini").write_text(f"[drift]\nmodels = m:Base\n\n[t]\nurl = {url}\n", encoding="utf-8")
    Config.load(tmp_path / "config.ini", environ=environ).environment("t")


def test_only_the_password_of_a_url_is_a_secret(tmp_path: Path) -> None:
    url_environment(
        tmp_path,
        "postgresql://${DB_USER}:${DB_PW}@${DB_HOST}:5432/${DB_NAME}",
        {"DB_USER": "app", "DB_PW": "S3cr3t-pw-9xq", "DB_HOST": "db.internal.example", "DB_NAME": "appdb"},
    )
    # The host is what an error message about connecting must show.
    assert mask('connection to server at "db.internal.example" failed for user app on appdb') == (
        'connection to server at "db.internal.example" failed for user app on appdb'
    )
    assert mask("S3cr3t-pw-9xq") == MASK


def test_a_variable_holding_the_whole_url_hides_its_password(tmp_path: Path) -> None:
    url_environment(tmp_path, "${DATABASE_URL}", {"DATABASE_URL": "postgresql://app:S3cr3t-pw-9xq@db/app"})
    assert mask("login S3cr3t-pw-9xq") == f"login {MASK}"


def test_a_password_that_breaks_the_url_is_still_a_secret(tmp_path: Path) -> None:
    # '@' and '#' in a password must be %-encoded in a URL; written raw, the URL parses wrongly.
    url_environment(tmp_path, "postgresql://app:${DB_PW}@db/app", {"DB_PW": "pa@ss#w0rd-9xq"})
    assert mask("sent pa@ss#w0rd-9xq") == f"sent {MASK}"


def test_password_key_variable_is_a_secret_and_host_key_is_not(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(
        "[drift]\nmodels = m:Base\n\n[t]\ndialect = postgresql\nhost = ${H}\npassword = ${P}\n", encoding="utf-8"
    )
    Config.load(tmp_path / "config.ini", environ={"H": "db.internal.example", "P": "S3cr3t-pw-9xq"}).environment("t")
    assert mask("db.internal.example S3cr3t-pw-9xq") == f"db.internal.example {MASK}"
