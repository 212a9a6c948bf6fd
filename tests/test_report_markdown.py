"""Markdown reports: escaping that holds in GitHub/GitLab, and the size cap.

Where markdown-it-py is installed, the output is also parsed the way a
CommonMark + GFM-tables renderer does, and what the reader would see is
compared with the names that went in.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift.errors import ConfigError
from drift.report import options_from_settings, render
from drift.report import markdown as md
from drift.report.render import DEFAULT_MARKDOWN_MAX_CHARS
from drift.report.view import visible
from report_builders import (
    ANSI,
    IMG,
    NEWLINE,
    PIPES,
    RTL,
    SCRIPT,
    TICKS,
    drift_report,
    hostile_report,
    many_findings_report,
)


def markdown_it():
    mdit = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed (pip install markdown-it-py)")
    return mdit.MarkdownIt("commonmark").enable("table")


def body_cell(tokens):
    """The inline children of the first body cell of a one-column table."""
    start = next(i for i, t in enumerate(tokens) if t.type == "td_open")
    return tokens[start + 1].children or []


def inline_tokens(tokens):
    for token in tokens:
        yield token
        yield from inline_tokens(token.children or [])


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("users", "`users`"),
        ("x`y", "``x`y``"),
        ("x``y", "```x``y```"),
        ("`start", "`` `start ``"),
        ("end`", "`` end` ``"),
        (" padded ", "`  padded  `"),
        ("a\nb", "`a b`"),
        ("", "*(empty)*"),
    ],
)
def test_inline_code_fence_is_longer_than_any_backtick_run(value: str, expected: str) -> None:
    assert md.code(value) == expected


def test_pipes_are_escaped_in_table_cells_even_inside_code() -> None:
    assert md.code("a|b", cell=True) == "`a\\|b`"
    assert md.text("a|b") == "a\\|b"
    assert md.code("a|b") == "`a|b`"  # outside a table a pipe is just a pipe


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("snake_case_name", "snake_case_name"),
        ("_private_", "\\_private\\_"),
        ("*bold*", "\\*bold\\*"),
        ("<b>x</b>", "\\<b\\>x\\</b\\>"),
        ("[link](javascript:alert(1))", "\\[link\\](javascript:alert(1))"),
        ("&amp;", "\\&amp;"),
        ("~~gone~~", "\\~\\~gone\\~\\~"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("---", "\\---"),
        ("1. first", "1\\. first"),
        ("0.1.0", "0.1.0"),
        ("#1 is fine", "#1 is fine"),
        ("a\r\nb\rc\nd", "a b c d"),
    ],
)
def test_prose_is_shown_as_written(value: str, expected: str) -> None:
    assert md.text(value) == expected


def test_code_blocks_use_a_fence_no_content_can_close() -> None:
    assert md.fence("x = 1", "python") == "```python\nx = 1\n```"
    assert md.fence("s = '````'", "python").startswith("`````python\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30))
def test_inline_code_round_trips_through_a_commonmark_parser(raw: str) -> None:
    parser = markdown_it()
    value = visible(raw)  # as in the reports: hidden characters are spelled out before Markdown sees them
    for cell in (False, True):
        source = md.code(value, cell=cell)
        if cell:
            source = f"| h |\n|---|\n| {source} |\n"
            tokens = body_cell(parser.parse(source))
        else:
            tokens = list(inline_tokens(parser.parse(source)))
        codes = [t.content for t in tokens if t.type == "code_inline"]
        expected = md.one_line(value)
        if not expected:
            assert not codes
            continue
        # A code span's content is taken as written, except that line endings become spaces.
        assert codes == [expected], source


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30))
def test_prose_round_trips_through_a_commonmark_parser(raw: str) -> None:
    parser = markdown_it()
    value = visible(raw)
    expected = md.one_line(value).strip()
    source = f"| h |\n|---|\n| {md.text(value)} |\n"
    tokens = body_cell(parser.parse(source))
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_inline", "html_block", "link_open", "em_open", "strong_open", "s_open", "code_inline"}
    shown = "".join(t.content for t in tokens if t.type == "text")
    # CommonMark trims a cell and decodes nothing else: what went in is what is shown.
    if expected.strip(" \t"):
        assert shown.strip(" \t") == expected.strip(" \t"), source


# --------------------------------------------------------------------------- whole reports


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_names_never_break_a_table_row() -> None:
    text = render(hostile_report(), "markdown")
    rows = table_rows(text)
    assert rows
    for line in rows:
        assert unescaped_pipes(line) in (3, 4), line  # 2 or 3 columns, pipes at both ends


def test_hostile_report_parses_to_the_intended_structure() -> None:
    parser = markdown_it()
    text = render(hostile_report(), "markdown")
    tokens = parser.parse(text)
    allowed_html = re.compile(r'^(<a id="[a-z_]+-[0-9a-f]{10}">|</a>|<br>|</?details( open)?>|</?summary>|</?sub>)$')
    for token in inline_tokens(tokens):
        if token.type in ("html_inline", "html_block"):
            for piece in re.findall(r"<[^>]*>", token.content):
                assert allowed_html.match(piece), f"raw HTML from the data: {token.content!r}"
        assert token.type not in ("link_open",) or token.attrs.get("href", "").startswith("#")
    # Every table row keeps its cell count.
    in_table = False
    for token in tokens:
        if token.type == "tr_open":
            in_table, cells = True, 0
        elif in_table and token.type in ("td_open", "th_open"):
            cells += 1
        elif token.type == "tr_close":
            assert cells in (2, 3)
            in_table = False
    codes = {t.content for t in inline_tokens(tokens) if t.type == "code_inline"}
    assert SCRIPT in codes and PIPES in codes and TICKS in "".join(codes)
    assert "users\\u202egpj.exe" in codes  # the override is spelled out, not applied
    headings = [t for t in tokens if t.type == "heading_open"]
    heading_texts = [tokens[tokens.index(h) + 1].content for h in headings]
    assert not any("heading" in h and "line1" not in h for h in heading_texts), "a name started a heading"


def test_hostile_characters_are_spelled_out() -> None:
    text = render(hostile_report(), "markdown")
    for raw in ("\u202e", "\u200b", "\u200d", "\x1b", "\r"):
        assert raw not in text
    assert "\\\\u202e" in text or "users\\u202egpj.exe" in text
    assert "line1\\nline2\\r\\n# heading" in text  # the index name, one line, in backticks


def test_newlines_in_comments_become_line_breaks_inside_the_cell() -> None:
    text = render(hostile_report(), "markdown")
    assert "first line<br>second \\| line<br>\\`\\`\\`<br>\\<b\\>not bold\\</b\\>" in text


def test_hostile_values_are_escaped_in_prose() -> None:
    text = render(hostile_report(), "markdown")
    prose = re.sub(r"^(`{3,})[a-z]*\n.*?^\1$", "", text, flags=re.S | re.M)  # fenced code is literal
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", prose)  # so are code spans
    assert not re.search(r"(?<!\\)<(img|script|b|i)\b", prose)
    assert ANSI not in text


# --------------------------------------------------------------------------- size cap


def test_a_small_report_is_not_cut() -> None:
    text = render(drift_report(), "markdown", max_chars=100_000)
    assert "left out" not in text
    assert text == render(drift_report(), "markdown")


def test_the_cap_keeps_header_summary_and_commands_and_says_what_is_left_out() -> None:
    report = many_findings_report(400)
    full = render(report, "markdown", max_chars=10**9)
    assert len(full) > 20_000
    text = render(report, "markdown", max_chars=20_000, full_report="reports/drift-prod-20250304T050607Z.html")
    assert len(text) <= 20_000
    assert "## Schema drift: `prod`" in text and report.verdict in text
    assert "### Summary" in text and "| Kind | Count |" in text
    for command in report.migration.commands:
        assert command in text
    shown = sum(1 for f in report.findings if f'<a id="{f.id}"></a>' in text)
    assert 0 < shown < 400
    omitted = 400 - shown
    assert f"**{omitted} findings of 400 left out** to keep this report under 20,000 characters" in text
    assert "`reports/drift-prod-20250304T050607Z.html`" in text
    assert "`drift check --env prod --format html`" in text


def test_the_cap_keeps_the_most_severe_findings() -> None:
    report = many_findings_report(400)
    text = render(report, "markdown", max_chars=20_000)
    dangers = [f for f in report.findings if f.severity == "danger"]
    shown = [f for f in report.findings if f'<a id="{f.id}"></a>' in text]
    assert len(shown) < len(report.findings)
    shown_dangers = [f for f in shown if f.severity == "danger"]
    assert len(shown_dangers) == min(len(dangers), len(shown))
    assert "in the HTML and JSON reports of this run" in text


def test_default_cap_is_60000() -> None:
    report = many_findings_report(1500)
    text = render(report, "markdown")
    assert len(text) <= DEFAULT_MARKDOWN_MAX_CHARS
    assert "under 60,000 characters" in text


def test_a_tiny_cap_drops_the_code_but_never_the_commands() -> None:
    report = many_findings_report(400)
    text = render(report, "markdown", max_chars=2_500)
    for command in report.migration.commands:
        assert command in text
    assert "upgrade()" not in text
    assert "the full report" in text.lower()
    assert re.search(r"\*\*\d+ findings of 400 left out\*\*", text)
    assert "(1 shown)" in text or "**400 findings of 400 left out**" in text


def test_a_cap_too_small_for_the_header_still_gets_the_commands() -> None:
    report = many_findings_report(50)
    text = render(report, "markdown", max_chars=100)
    assert report.verdict in text
    for command in report.migration.commands:
        assert command in text
    assert "**50 findings of 50 left out**" in text


def test_cut_tables_stay_well_formed() -> None:
    text = render(many_findings_report(400), "markdown", max_chars=12_000)
    for line in table_rows(text):
        assert unescaped_pipes(line) in (3, 4), line


def test_max_chars_comes_from_settings() -> None:
    assert options_from_settings({}) == {}
    assert options_from_settings({"markdown_max_chars": " 30_000 "}) == {"max_chars": 30000}
    for bad in ("0", "-5", "lots", "1.5"):
        with pytest.raises(ConfigError, match="markdown_max_chars"):
            options_from_settings({"markdown_max_chars": bad})


def test_options_go_to_the_formats_that_take_them() -> None:
    report = drift_report()
    # One set of options for every format: json and html ignore max_chars.
    assert render(report, "json", max_chars=10) == render(report, "json")
    assert render(report, "html", max_chars=10) == render(report, "html")
    with pytest.raises(TypeError, match="max_char"):
        render(report, "markdown", max_char=10)
    with pytest.raises(ValueError):
        render(report, "markdown", max_chars=0)
