"""Risks and the "Set aside" section in every format: what each shows, escaped, under the Markdown cap, in a run and a ticket.

Reports are hand-built (tests/report_builders.py); the policy comes from
drift.policy.apply_policy with hand-made rules and entries, as a check makes it.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markupsafe import escape

from drift.findings import Finding
from drift.policy import IgnoreRule, apply_policy
from drift.report import markdown as md
from drift.report import render
from drift.report.render import render_run, render_ticket
from drift.report.view import build
from drift.run import EnvironmentResult, RunResult
from report_builders import (
    AUDIT_RULE,
    BACKFILL,
    DUPLICATE,
    SCRIPT,
    TODAY,
    column,
    finding,
    many_findings_report,
    policy_clean_report,
    policy_report,
    report,
    risk_findings,
    risk_report,
    state_at_head,
)

TEXT_FORMATS = ("html", "markdown", "text")


def shown(text: str, fmt: str) -> str:
    """``text`` as the reader sees it: HTML entities decoded, Markdown backslash escapes removed."""
    if fmt == "html":
        return html.unescape(re.sub(r"<[^>]+>", "", text))
    if fmt == "markdown":
        return re.sub(r"\\([\\`*_\[\]<>&~|#+\-.!()])", r"\1", text)
    return text


# --------------------------------------------------------------------------- risks


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_risk_is_shown_with_its_severity_evidence_and_suggestion(fmt: str) -> None:
    text = shown(render(risk_report(), fmt), fmt)
    view = build(risk_report())
    for f in (f for t in view.tables for f in t.findings):
        for r in f.risks:
            assert r.summary in text, (fmt, r.summary)
            for e in r.evidence:
                assert f"{e.key}: {e.value}" in text.replace(":\n", ": ").replace(": \n", ": ") or (
                    fmt == "html" and e.key in text and e.value in text), (fmt, e)
            if r.suggestion:
                assert r.suggestion in text
    assert "null_rows: 2" in text or "null_rows:\n2" in text or ("null_rows:" in text and fmt == "html")
    assert "rows: 1,250" in text or fmt == "html"


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_the_backfill_is_a_code_block_labelled_run_first(fmt: str) -> None:
    text = render(risk_report(), fmt)
    label = {"html": "Run first, in the same migration:", "markdown": "Run first, in the same migration:",
             "text": "run first, in the same migration:"}[fmt]
    assert text.count(label) == 1  # only the risk with code gets one
    after = text.split(label, 1)[1]
    if fmt == "html":
        assert re.match(r"</p>\s*<pre><code>" + re.escape(str(escape(BACKFILL))) + "</code></pre>", after)
    elif fmt == "markdown":
        assert after.startswith(f"\n\n  ```python\n  {BACKFILL}\n  ```\n")
    else:
        assert after.startswith(f"\n          {BACKFILL}\n")


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_not_measured_is_said_apart_from_what_was_measured(fmt: str) -> None:
    text = shown(render(risk_report(), fmt), fmt)
    reason = "the table has ~2,000,000 rows (pg_class.reltuples), above risk_large_table (1,000,000)"
    marker = {"html": "Not measured", "markdown": "not measured", "text": "[warning, not measured]"}[fmt]
    assert text.count(marker) >= 1
    assert re.search(r"[Nn]ot measured: " + re.escape(reason), text)
    # The measured risks carry no such mark.
    assert "[danger, not measured]" not in text and "[info, not measured]" not in text


def test_html_writes_each_risk_severity_as_a_word() -> None:
    text = render(risk_report(), "html")
    risks = re.findall(r'<div class="risk risk-(\w+)[^"]*">\s*<div class="risk-head">\s*'
                       r'<span class="badge sev-(\w+)">(\w+)</span>', text)
    assert [(a, b, c) for a, b, c in risks] == [
        ("info", "info", "Info"), ("warning", "warning", "Warning"), ("danger", "danger", "Danger"),
        ("danger", "danger", "Danger"), ("info", "info", "Info")]
    assert '<span class="tag">Not measured</span>' in text


def test_the_summary_counts_findings_by_severity() -> None:
    for fmt, expected in (("html", ">Danger: 3<"), ("markdown", "**Danger: 3** · **Warning: 1**"),
                          ("text", "Danger: 3, Warning: 1")):
        assert expected in render(risk_report(), fmt)


def test_hostile_evidence_is_escaped_in_html() -> None:
    text = render(risk_report(), "html")
    assert "<script" not in text
    assert f"<code>{escape(f'email={DUPLICATE}')}</code>" in text


def test_hostile_evidence_is_code_or_escaped_prose_in_markdown() -> None:
    mdit = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed (pip install markdown-it-py)")
    text = render(risk_report(), "markdown")
    tokens = mdit.MarkdownIt("commonmark").enable("table").parse(text)

    def walk(ts):
        for t in ts:
            yield t
            yield from walk(t.children or [])

    flat = list(walk(tokens))
    for t in flat:
        if t.type in ("html_inline", "html_block"):
            assert "script" not in t.content, t.content
    codes = [t.content for t in flat if t.type == "code_inline"]
    assert f"example: email={DUPLICATE}" in codes
    prose = "".join(t.content for t in flat if t.type == "text")
    assert f'email="{DUPLICATE}"' in prose.replace("'", "'")  # the summary, shown as typed
    fences = [t for t in flat if t.type == "fence"]
    assert [f.content for f in fences if f.info == "python" and "UPDATE users" in f.content] == [BACKFILL + "\n"]
    # The backfill sits in the risk's list item, not after the list.
    item = next(i for i, t in enumerate(tokens) if t.type == "fence" and "UPDATE users" in t.content)
    assert tokens[item].level > 0


def test_indented_takes_only_markdown_already_escaped() -> None:
    assert md.indented(md.fence("x"), 2) == "  ```\n  x\n  ```"
    with pytest.raises(TypeError):
        md.indented("<b>raw</b>", 2)  # type: ignore[arg-type]


def test_risks_without_code_or_evidence_still_read_well() -> None:
    from drift.findings import Risk

    bare = report([finding("add_index", "users", "Index ix on users (a) exists in the models but not in the database",
                           name="ix", object_type="index", models={"columns": ["a"], "unique": False},
                           severity="warning",
                           risks=(Risk(rule="lock", severity="warning", summary="building ix blocks writes"),))])
    for fmt in TEXT_FORMATS:
        text = render(bare, fmt)
        assert "Building ix blocks writes." in text
        assert not re.search(r"(?i)(evidence:|class=\"evidence|run first|safer:)", text), fmt


# --------------------------------------------------------------------------- set aside


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_set_aside_lists_ignored_accepted_expired_and_unmatched(fmt: str) -> None:
    text = shown(render(policy_report(), fmt), fmt)
    assert "Set aside" in text
    assert "1 ignored by rules, 1 accepted, 1 acceptance expired, 1 accepted entry matching nothing" in text
    # Ignored: the message, the rule's pattern and reason.
    assert "Table audit_log exists in the models but not in the database" in text
    assert "audit_*" in text and "tables written by the audit trigger, not by the models" in text
    # Accepted: the message, reason, owner and expiry.
    assert "Column users.nickname exists in the models but not in the database" in text
    assert "alice" in text and "2025-05-01" in text and "ships with the profile page, OPS-12" in text
    # Expired: marked on the finding that came back.
    assert "acceptance expired on 2025-03-01 (bob, widened by the DBA | *to be migrated*)" in text
    assert "drift accept --env prod --id modify_type-33384cbc2d" in text
    # Unmatched: said plainly, with what to do.
    assert "o longer matches anything — remove it from drift-accepted.json" in text.replace("`", "").replace("**", "")
    assert "carol" in text and "default changes with the next release" in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_the_expired_mark_is_on_the_finding(fmt: str) -> None:
    text = shown(render(policy_report(), fmt), fmt)
    finding_at = text.index("Column tasks.title is VARCHAR(200) in the database")
    mark_at = text.index("eported again")
    aside_at = text.rindex("Set aside")
    assert finding_at < mark_at < aside_at


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_policy_notes_are_said_once(fmt: str) -> None:
    r = policy_report()
    assert len(r.notes) == 2  # as a check writes them; the set-aside section draws them
    text = render(r, fmt)
    assert "Acceptance expired on 2025-03-01: modify_type" not in text
    assert "Accepted drift no longer found" not in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_set_aside_is_counted_in_the_summary(fmt: str) -> None:
    text = render(policy_report(), fmt)
    heading = {"html": '<section id="set-aside">', "markdown": "### Set aside", "text": "\nSet aside:"}[fmt]
    summary, section = text.split(heading)
    assert "audit_log" in section and "audit_log" not in summary
    assert "1 ignored by rules" in summary  # the verdict
    if fmt != "text":
        assert "Ignored by rules: 1" in summary and "Accepted: 1" in summary
        assert "Acceptance expired: 1" in summary and "Accepted, matching nothing: 1" in summary


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_nothing_left_but_what_is_set_aside_is_not_called_a_match(fmt: str) -> None:
    text = render(policy_clean_report(), fmt)
    assert "No drift apart from what is ignored or accepted (1 ignored by rules, 1 accepted; 5 tables compared)" in text
    assert "Every table, column, index and constraint matches" not in text
    assert "nothing to migrate apart from what is set aside below" in text


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_rules_that_set_nothing_aside_leave_the_report_as_it_was(fmt: str) -> None:
    found = risk_findings()
    unused = apply_policy(found, [IgnoreRule.parse("nothing_*", "matches no table")], [], environment="prod",
                          today=TODAY)
    assert unused.active and not unused.summary
    with_policy = report(list(unused.kept), state=state_at_head(), policy=unused)
    assert render(with_policy, fmt) == render(report(found, state=state_at_head()), fmt)


def test_html_set_aside_links_back_to_the_finding_that_came_back() -> None:
    text = render(policy_report(), "html")
    assert '<section id="set-aside">' in text
    assert '<a class="id" href="#modify_type-33384cbc2d">modify_type-33384cbc2d</a>' in text
    assert text.count('href="#set-aside"') == 4


def test_policy_reasons_are_escaped() -> None:
    hostile = IgnoreRule.parse("audit_*", f"{SCRIPT} | **loud**")
    found = [finding("add_table", "audit_log", "Table audit_log exists in the models but not in the database")]
    result = apply_policy(found, [hostile], [], environment="prod", today=TODAY)
    r = report([], policy=result)
    assert "<script" not in render(r, "html")
    text = render(r, "markdown")
    assert "\\<script\\>" in text and "\\| \\*\\*loud\\*\\*" in text


# --------------------------------------------------------------------------- the Markdown cap


def big_policy_report() -> object:
    base = many_findings_report(300)
    audit = [finding("add_table", f"audit_{i:03d}", f"Table audit_{i:03d} exists in the models but not in the "
                     "database", models={"columns": {"id": column("INTEGER")}}) for i in range(200)]
    found = sorted([*base.findings, *audit], key=Finding.sort_key)
    result = apply_policy(found, [AUDIT_RULE], [], environment="prod", today=TODAY)
    return report(list(result.kept), migration=base.migration, state=state_at_head(), tables_compared=210,
                  policy=result)


def test_the_cap_counts_the_set_aside_section_before_it_cuts_findings() -> None:
    r = big_policy_report()
    full = render(r, "markdown", max_chars=10**9)
    assert "audit_199" in full
    cap = len(full) - 1_000  # the 200 ignored tables alone are far longer than this
    text = render(r, "markdown", max_chars=cap)
    assert len(text) <= cap
    assert "left out** to keep" not in text  # every finding still there
    assert "audit_199" not in text
    assert "**Set aside:** [Ignored by rules: 200](#set-aside)" in text
    assert "The 200 entries are listed in the full report" in text


def test_under_a_tight_cap_the_set_aside_counts_stay_and_dangers_go_last() -> None:
    r = big_policy_report()
    text = render(r, "markdown", max_chars=15_000)
    assert len(text) <= 15_000
    assert "Ignored by rules: 200" in text and "200 ignored by rules" in text
    shown_ids = [f for f in r.findings if f'<a id="{f.id}"></a>' in text]
    assert 0 < len(shown_ids) < len(r.findings)
    assert all(f.severity == "danger" for f in shown_ids[:1])
    dangers = [f for f in r.findings if f.severity == "danger"]
    assert len([f for f in shown_ids if f.severity == "danger"]) == min(len(dangers), len(shown_ids))


# --------------------------------------------------------------------------- several environments and the ticket

AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def run_of(*reports) -> RunResult:
    return RunResult(tuple(EnvironmentResult(r.environment, "checked", r) for r in reports), AT, "0.1.0", name="all")


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_run_report_shows_risks_and_set_aside_per_environment(fmt: str) -> None:
    prod = risk_report()
    staging = policy_report()
    staging = staging.__class__(**{**staging.__dict__, "environment": "staging"})
    text = render_run(run_of(prod, staging), fmt)
    plain = shown(text, fmt)
    assert "2 rows of users have NULL in full_name: the ALTER fails." in plain
    assert "acceptance expired on 2025-03-01 (bob" in plain
    assert "o longer matches anything" in plain
    if fmt == "html":
        assert ".risk-head" in text and "ul.aside" in text  # their styles come along
        assert 'id="staging--set-aside"' in text and 'href="#staging--set-aside"' in text
    if fmt == "markdown":
        assert '<a id="staging--set-aside"></a>' in text


def test_a_run_without_risks_or_policy_carries_no_extra_styles() -> None:
    text = render_run(run_of(report([finding("add_column", "users", "Column users.a exists in the models but not "
                                             "in the database", name="a", object_type="column",
                                             models=column("TEXT"))])), "html")
    assert ".risk-head" not in text and "ul.aside" not in text


def test_the_ticket_lists_the_risks_worth_acting_on() -> None:
    staging = policy_report()
    staging = staging.__class__(**{**staging.__dict__, "environment": "staging"})
    text = render_ticket(run_of(risk_report(), staging))
    plain = shown(text, "markdown")
    assert "  - Danger risk: 2 rows of users have NULL in full_name: the ALTER fails." in plain
    assert ("  - Warning risk (not measured): Values of tasks.title that do not fit VARCHAR(100): not measured: "
            "the table has ~2,000,000 rows") in plain
    assert "  - Reported again: acceptance expired on 2025-03-01 (bob, widened by the DBA | *to be migrated*)" in plain
    assert "loses no values" not in plain  # info risks stay in the full report
    assert "\\<script\\>" in text and not re.search(r"(?<!\\)<script", text)


# --------------------------------------------------------------------------- docs/reports.md stays true

DOC = (Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("containing", "build_report"), [("risk [danger]", risk_report), ("Set aside:", policy_report)])
def test_doc_examples_are_what_the_text_report_prints(containing: str, build_report) -> None:
    blocks = [b.split("```", 1)[0] for b in DOC.split("```text\n")[1:] if containing in b.split("```", 1)[0]]
    assert blocks, f"docs/reports.md has no text block with {containing!r}"
    assert blocks[0] in render(build_report(), "text")
