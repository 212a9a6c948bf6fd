"""Safety, hostile input: config files, environment values and database names drift did not choose.

Property-based (hypothesis, bounded: a fixed number of examples, no
deadline): generated config.ini files — bad sections and keys, bad URLs,
unicode, huge values, ``${VAR}``s with generated environment values — go
through ``drift check`` and ``drift envs`` in-process, and the only outcomes
are exit 0/1, or 2 with one line ``drift: error: …``; never a traceback.
Generated table and column names (HTML, Markdown links and images, pipes,
newlines, RTL and zero-width characters, ANSI escapes) are planted in a real
SQLite database and the check's report is drawn in every format: HTML has
no tag from a name, Markdown no link, image or raw HTML from a name and
every table row keeps its cells, text shows control characters escaped,
JSON gives the names back exactly. One fixed hostile case runs the same on
PostgreSQL and MariaDB, with comments too.

Already proven elsewhere on hand-built reports (docs/safety.md lists them):
tests/test_report_html.py::test_hostile_names_render_as_text (and in a real
browser, ::test_browser_runs_nothing_from_hostile_names),
tests/test_report_markdown.py::test_hostile_report_parses_to_the_intended_structure,
tests/test_envdiff.py::test_hostile_names_stay_text,
tests/test_archive.py::test_hostile_names_in_a_run_and_a_ticket_stay_text.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

import drift
import faults
from drift import secrets
from faults import restore_logging_and_imports  # noqa: F401  (autouse)
from drift.cli import cli
from drift.findings import Report
from drift.report import render
from drift.report.render import render_run, render_ticket
from drift.run import EnvironmentResult, RunResult
from fleet import closed_port
from scenarios import execute, isolated_imports, make_project

FRAGMENTS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>bold</b>", "<!--", "-->",
    "[link](http://evil.example)", "![img](http://evil.example/i.png)", "<http://evil.example>",
    "|", "||", "\n", "\r\n", "# heading", "> quote", "- item", "\u202e", "\u200b", "\u200d", "\u2066",
    "\x1b[31m", "`", "```", "*", "_", "\\", "&amp;", "&lt;", "'", '"', "${X}", "%s", "\t", "{{ x }}",
    "{% raw %}", "users", "ü", "表",
]
PLAIN = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6)
NAME = st.lists(st.sampled_from(FRAGMENTS) | PLAIN, min_size=1, max_size=4).map("".join).filter(
    lambda n: n.strip() and not n.lower().startswith("sqlite_") and len(n) <= 60
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
TINY = 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True))\n'


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered secret: the fuzzed config files register passwords drawn from the
    same fragments as the hostile names, and a name that equals an earlier test's password is rightly masked."""
    monkeypatch.setattr(secrets, "_secrets", set())
    monkeypatch.setattr(secrets, "_pattern", None)


# --------------------------------------------------------------------------- config files and environment values


RUNS = {"total": 0}


def assert_clean(result: Result, command: str) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, repr(result.exc_info)
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        if command == "envs" and not lines:
            # drift envs lists every environment, a broken one as "name<TAB>?<TAB>why", and exits 2.
            assert any(line.count("\t") >= 2 and "\t?\t" in line for line in result.stdout.splitlines()), result.stdout
        else:
            assert len(lines) == 1 and lines[0].startswith("drift: error: "), result.stderr
    event(f"{command}: exit {result.exit_code}")
    RUNS["total"] += 1
    faults.figure("hostile.cli_runs", RUNS["total"])


KEYS = ["url", "dialect", "driver", "host", "port", "user", "password", "database", "connect_timeout",
        "statement_timeout", "connect_retries", "retry_backoff", "scratch_url", "URL", "Url", "ünïcode", "a b",
        "models", "report_dir", "risk_max_rows", "risk_query_timeout", "markdown_max_chars", "diff_pair"]
HUGE = st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "%", "$", "{", "|", "表"]), st.integers(1000, 50_000))
VALUE = st.one_of(
    PLAIN, st.sampled_from(FRAGMENTS), HUGE,
    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "86401", "0.001", "2", "", " ", "yes", "99999999999999999999"]),
    st.sampled_from([
        "sqlite:///app.db", "sqlite://", "sqlite:///:memory:", "postgresql://u:p@127.0.0.1:{port}/x",
        "mysql://u@127.0.0.1:{port}/x", "oracle://u:p@127.0.0.1/x", "postgresql://u:${PW}@127.0.0.1:{port}/x",
        "://", "postgresql://[::1", "postgresql://u:p@127.0.0.1:99999/x", "mysql+nodriver://127.0.0.1/x",
        "sqlite+pysqlite:///./app.db?mode=rwc", "postgresql://u:%zz@127.0.0.1:{port}/x", "${URL}", "${URL:-sqlite://}",
        "${", "${}", "${1BAD}", "sqlite", "postgresql", "mariadb", "mssql",
    ]),
)
SECTION = st.one_of(st.sampled_from(["t", "T", "drift", "DRIFT", "drift:ignore", "logging", " t ", "t.x", "表"]), PLAIN)
LINE = st.tuples(st.sampled_from(KEYS) | PLAIN, VALUE)


@st.composite
def config_files(draw: st.DrawFn) -> tuple[str, dict[str, str], str]:
    port = closed_port()  # generated URLs only ever point at a loopback port nothing listens on
    lines = ["[drift]", "models = {module}:metadata", "model_modules = {module}", "alembic_ini = alembic.ini",
             "connect_retries = 0", "connect_timeout = 1"]
    lines += [f"{k} = {v}" for k, v in draw(st.lists(LINE, max_size=3))]
    sections = draw(st.lists(SECTION, min_size=1, max_size=3))
    for name in sections:
        lines.append(f"[{name}]")
        if draw(st.booleans()):
            lines.append("url = sqlite:///app.db")
        lines += [f"{k} = {v}" for k, v in draw(st.lists(LINE, max_size=4))]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(FRAGMENTS) | PLAIN))  # a stray line
    text = "\n".join(lines).replace("{port}", str(port))
    environ = {"PW": draw(VALUE), "URL": draw(VALUE).replace("{port}", str(port)), "X": draw(PLAIN)}
    return text, {k: v.replace("\x00", "") for k, v in environ.items()}, draw(st.sampled_from([*sections, "t", "nope"]))


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    with contextlib.closing(sqlite3.connect(root / "app.db")) as conn:
        conn.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY)")
    return make_project(root, "sqlite:///app.db", TINY).root


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=config_files())
def test_generated_config_files_fail_clearly_or_work(case: tuple[str, dict[str, str], str], fuzz_root: Path) -> None:
    text, environ, env = case
    module = next(p.stem for p in fuzz_root.glob("tm_*.py"))
    config = fuzz_root / "config.ini"
    try:
        config.write_text(text.replace("{module}", module), encoding="utf-8", errors="surrogatepass")
    except UnicodeEncodeError:
        return
    with isolated_imports():
        for args in (["check", "--env", env, "--config", str(config)], ["envs", "--config", str(config)]):
            assert_clean(CliRunner().invoke(cli, args, env=environ), args[0])


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_a_config_file_that_is_not_text(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    config = tmp_path_factory.mktemp("bin") / "config.ini"
    config.write_bytes(data)
    for args in (["check", "--env", "t", "--config", str(config)], ["envs", "--config", str(config)]):
        assert_clean(CliRunner().invoke(cli, args), args[0])


# --------------------------------------------------------------------------- names in the database


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_html_safe(text: str) -> None:
    parser = Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "img", "b", "iframe", "http:"), tag
        assert not any(name.startswith("on") for name, _ in attrs), (tag, attrs)
        if tag == "a":
            href = dict(attrs).get("href") or "#"
            assert href.startswith("#") or "evil" not in href, href
    for fragment in ("<script>", "<img ", "<b>bold"):
        assert fragment not in text


# The templates' own anchors (finding ids, environment sections), line breaks in cells and foldable sections.
_ALLOWED_MD_HTML = re.compile(r'^(<a id="[a-z0-9_-]+">|</a>|<br>|</?details( open)?>|</?summary>|</?sub>)$')


def inline_tokens(tokens: list) -> Iterator:
    for token in tokens:
        yield token
        yield from inline_tokens(token.children or [])


def assert_markdown_safe(text: str) -> None:
    import markdown_it

    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    for token in inline_tokens(tokens):
        assert token.type != "image", token
        if token.type == "link_open":
            href = token.attrs.get("href", "")
            assert "evil" not in str(href), href
        if token.type in ("html_inline", "html_block"):
            for piece in re.findall(r"<[^>]*>", token.content):
                assert _ALLOWED_MD_HTML.match(piece), f"raw HTML from the data: {token.content!r}"
    cells: int | None = None
    widths: list[int] = []
    for token in tokens:
        if token.type == "thead_open":
            widths.append(-1)
        if token.type == "tr_open":
            cells = 0
        elif cells is not None and token.type in ("td_open", "th_open"):
            cells += 1
        elif token.type == "tr_close":
            if widths and widths[-1] == -1:
                widths[-1] = cells or 0
            assert cells == widths[-1], "a name broke a table row"
            cells = None
    for raw in ("\u202e", "\u200b", "\u200d", "\u2066", "\x1b"):
        assert raw not in text


def assert_text_safe(text: str) -> None:
    hidden = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")]
    assert hidden == [], [hex(ord(c)) for c in hidden]


def every_format(report: Report) -> dict[str, str]:
    run = RunResult(environments=(EnvironmentResult(report.environment, "checked", report=report),),
                    generated_at=report.generated_at, tool_version=report.tool_version, name=report.environment)
    texts = {fmt: render(report, fmt) for fmt in ("html", "markdown", "text", "json")}
    texts.update({f"run-{fmt}": render_run(run, fmt) for fmt in ("html", "markdown", "text")})
    texts["ticket"] = render_ticket(run, link="https://reports.example/r.html", link_label="r.html")
    return texts


def assert_neutralised(report: Report, names: list[str]) -> None:
    texts = every_format(report)
    for fmt in ("html", "run-html"):
        assert_html_safe(texts[fmt])
    for fmt in ("markdown", "run-markdown", "ticket"):
        assert_markdown_safe(texts[fmt])
    for fmt in ("text", "run-text"):
        assert_text_safe(texts[fmt])
    document = json.loads(texts["json"])
    seen = {f["table"] for f in document["findings"]} | {f["name"] for f in document["findings"] if f["name"]}
    assert set(names) <= seen, (names, seen)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@SETTINGS
@given(table=NAME, column=NAME, modelled=NAME)
def test_hostile_names_in_a_sqlite_database_are_neutralised(
    table: str, column: str, modelled: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if len({table.lower(), modelled.lower(), "t"}) < 3 or column.lower() == "id":
        return
    root = tmp_path_factory.mktemp("hostile")
    with contextlib.closing(sqlite3.connect(root / "app.db")) as conn:
        conn.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY, " + quoted(column) + " VARCHAR(10))")
        conn.execute("CREATE TABLE " + quoted(table) + " (id INTEGER NOT NULL PRIMARY KEY)")
        conn.commit()
    models = TINY + f"Table({modelled!r}, metadata, Column('id', Integer, primary_key=True))\n"
    project = make_project(root, "sqlite:///app.db", models)
    with isolated_imports():
        report = drift.check(project.config_path, project.env, attribute=False)
    assert_neutralised(report, [table, column, modelled])


# --------------------------------------------------------------------------- one fixed case on the servers

FIXED_TABLE = "x<img src=x onerror=alert(1)>|[a](http://evil.example)"
# No backtick: SQLAlchemy's MariaDB reflection reads a doubled one back from SHOW CREATE TABLE.
FIXED_COLUMN = "c\u202egpj.exe\u200b|*_"
FIXED_COMMENT = "<script>alert(1)</script> ![i](http://evil.example/i.png)\n# heading | cell\x1b[31m"


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                     pytest.param("mysql", marks=pytest.mark.mysql)])
def test_a_hostile_case_on_the_servers(dialect: str, make_db, tmp_path: Path) -> None:
    url: URL = make_db(dialect)
    q = (lambda n: "`" + n.replace("`", "``") + "`") if dialect == "mysql" else quoted
    comment = FIXED_COMMENT.replace("'", "''")
    if dialect == "mysql":
        execute(url, f"CREATE TABLE {q(FIXED_TABLE)} (id INTEGER PRIMARY KEY, {q(FIXED_COLUMN)} VARCHAR(10) "
                     f"COMMENT '{comment}') COMMENT '{comment}'")
    else:
        execute(url, f"CREATE TABLE {q(FIXED_TABLE)} (id INTEGER PRIMARY KEY, {q(FIXED_COLUMN)} VARCHAR(10))",
                f"COMMENT ON TABLE {q(FIXED_TABLE)} IS '{comment}'",
                f"COMMENT ON COLUMN {q(FIXED_TABLE)}.{q(FIXED_COLUMN)} IS '{comment}'")
    models = (f"metadata = MetaData()\nTable({FIXED_TABLE!r}, metadata, Column('id', Integer, primary_key=True), "
              f"comment={FIXED_COMMENT!r})\n")
    project = make_project(tmp_path / "p", url, models)
    report = drift.check(project.config_path, project.env, attribute=False)
    assert {f.name for f in report.findings} >= {FIXED_COLUMN}
    assert_neutralised(report, [FIXED_TABLE, FIXED_COLUMN])
