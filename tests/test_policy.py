"""Ignore rules and accepted drift: parsing, matching, the accepted-drift file, expiry, and a check on SQLite.

Most tests build findings by hand and call the pure :func:`drift.policy.apply_policy`;
the last ones run a real check of a SQLite project, and the ``drift accept`` command
when the CLI has it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

import drift
from drift.config import Config
from drift.errors import ConfigError, DriftError
from drift.findings import Finding, Report, SuggestedMigration
from drift.policy import (
    EVERY_ENVIRONMENT,
    Acceptance,
    IgnoreRule,
    Policy,
    PolicyResult,
    UnknownFindingError,
    accept,
    apply_policy,
    default_expiry,
    dump_accepted,
    parse_accepted,
    parse_rules,
    read_accepted,
    write_accepted,
)
from report_builders import report as build_report
from scenarios import build, execute, isolated_imports, make_project

TODAY = date(2025, 6, 1)


def finding(kind: str, table: str, name: str | None = None, *, schema: str | None = None,
            object_type: str | None = None) -> Finding:
    if object_type is None:
        column = "column" in kind or kind.startswith("modify_")
        object_type = "column" if column else "index" if "index" in kind else "table"
    return Finding(kind=kind, table=table, name=name, schema=schema, object_type=object_type,
                   message=f"{kind} {table}{'.' + name if name else ''}")


def entry(f: Finding, environment: str = "prod", *, expires: date = date(2025, 8, 30), owner: str = "alice",
          reason: str = "widened by the DBA") -> Acceptance:
    return Acceptance.for_finding(f, environment=environment, reason=reason, owner=owner,
                                  accepted_on=date(2025, 5, 1), expires=expires)


def rule(key: str, reason: str = "because", environment: str | None = None) -> IgnoreRule:
    return IgnoreRule.parse(key, reason, environment=environment)


def ids(findings: Any) -> list[str]:
    return [getattr(x, "finding", x).id for x in findings]


# --------------------------------------------------------------------------- parsing rules


def test_rule_parts() -> None:
    assert rule("audit_*").target == ("audit_*",) and rule("audit_*").kind is None
    assert rule("users.legacy_*").target == ("users", "legacy_*")
    assert rule("app.users.legacy_*").target == ("app", "users", "legacy_*")
    kinded = rule("remove_index   users.*", "  indexes the DBA\nadds by hand  ", environment="prod")
    assert (kinded.kind, kinded.target, kinded.pattern) == ("remove_index", ("users", "*"), "remove_index users.*")
    assert kinded.reason == "indexes the DBA adds by hand"  # a continuation line joins the reason
    assert kinded.section == "drift:ignore:prod" and rule("x").section == "drift:ignore"


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_a_rule_without_a_reason_is_an_error_naming_it(reason: str) -> None:
    with pytest.raises(ConfigError, match=r"^\[drift:ignore:prod\] 'audit_\*' has no reason; write why"):
        IgnoreRule.parse("audit_*", reason, environment="prod")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("users..legacy", r"'users\.\.legacy' is not a pattern: write table, table\.object or schema\.table\.object"),
        (".users", r"'\.users' is not a pattern"),
        ("users.", r"'users\.' is not a pattern"),
        ("a.b.c.d", r"'a\.b\.c\.d' is not a pattern"),
        ("users.[ab", r"'users\.\[ab' has a '\[' without its '\]'"),
        ("remove_index users.* extra", r"is not a rule: write a pattern \(users\.legacy_\*\) or a kind and a pattern"),
        ("remove.index users", r"'remove\.index' is not a kind pattern"),
        ("remove_[index users", r"'remove_\[index' is not a kind pattern"),
        ("", r"has a rule without a pattern"),
    ],
)
def test_bad_patterns_are_errors(key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IgnoreRule.parse(key, "a reason")


def test_brackets_that_close_are_patterns() -> None:
    assert rule("t[ab]").matches(finding("add_table", "ta"))
    assert rule("t[!a]").matches(finding("add_table", "tb")) and not rule("t[!a]").matches(finding("add_table", "ta"))
    assert rule("t[]]").matches(finding("add_table", "t]"))


def test_the_kind_colon_form_gets_a_message_saying_what_to_write() -> None:
    # configparser splits "kind:modify_comment = why" at the colon: key "kind", value "modify_comment = why".
    with pytest.raises(ConfigError, match=r"kind:modify_comment cannot be a key .*: modify_comment \* = DBA's"):
        IgnoreRule.parse("kind", "modify_comment = DBA's")
    with pytest.raises(ConfigError, match=r"instead: remove_index users\.\* = why$"):
        IgnoreRule.parse("kind", "remove_index users.* = why")


def test_a_kind_drift_never_reports_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="drift.policy"):
        assert rule("remove_idx users.*").kind == "remove_idx"
        assert rule("modify_* users.*").kind == "modify_*"
        assert rule("modify_enum *").kind == "modify_enum"  # a kind of drift's own comparators
    assert [r.getMessage().split(" matches")[0] for r in caplog.records] == [
        "[drift:ignore] remove_idx users.*: 'remove_idx'"]


def test_parse_rules_reads_the_global_and_environment_sections_only() -> None:
    sections = {
        "drift:ignore": {"audit_*": "audit trigger", "kind": ""},
        "drift:ignore:prod": {"Users.Legacy_*": "old importer"},
        "drift:other": {"whatever": ""},  # another drift: section is not a rule section
    }
    with pytest.raises(ConfigError, match=r"'kind' has no reason"):
        parse_rules(sections, ["prod"])
    del sections["drift:ignore"]["kind"]
    rules = parse_rules(sections, ["prod", "dev"])
    assert [(r.pattern, r.environment) for r in rules] == [("audit_*", None), ("Users.Legacy_*", "prod")]


def test_a_rule_section_for_an_unknown_environment_is_an_error() -> None:
    unknown = r"^\[drift:ignore:prdo\] names no environment in config.ini; known environments: dev, prod$"
    with pytest.raises(ConfigError, match=unknown):
        parse_rules({"drift:ignore:prdo": {"x": "y"}}, ["prod", "dev"])
    with pytest.raises(ConfigError, match=r"^\[drift:ignores\] is not a section drift reads"):
        parse_rules({"drift:ignores": {"x": "y"}}, ["prod"])


def test_rules_from_config_ini_keep_their_case(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(
        "[drift]\nmodels = app:Base\n\n[prod]\nurl = sqlite:///prod.db\n\n"
        "[drift:ignore]\naudit_* = tables written by the audit trigger,\n  not by the models\n"
        "modify_comment * = comments are managed by the DBA\n\n"
        "[drift:ignore:prod]\nUsers.Legacy_* = columns kept for the old importer\n",
        encoding="utf-8",
    )
    config = Config.load(path)
    assert "drift:ignore" not in config.sections  # not an environment
    policy = Policy.load(config)
    assert [(r.pattern, r.environment, r.reason) for r in policy.rules] == [
        ("audit_*", None, "tables written by the audit trigger, not by the models"),
        ("modify_comment *", None, "comments are managed by the DBA"),
        ("Users.Legacy_*", "prod", "columns kept for the old importer"),
    ]
    assert policy.accepted == () and policy.accepted_path == tmp_path / "drift-accepted.json"


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("pattern", "f", "expected"),
    [
        # one segment: a table, and everything about it, in any schema
        ("audit_*", finding("remove_table", "audit_log"), True),
        ("audit_*", finding("remove_column", "audit_log", "who"), True),
        ("audit_*", finding("add_index", "audit_log", "ix_when"), True),
        ("audit_*", finding("remove_table", "audit_log", schema="app"), True),
        ("audit_*", finding("remove_column", "users", "audit_flag"), False),
        ("*_id", finding("add_column", "users", "account_id"), False),  # '*' does not cross the dot
        # two segments: table.object, or schema.table
        ("users.legacy_*", finding("remove_column", "users", "legacy_code"), True),
        ("users.legacy_*", finding("remove_index", "users", "legacy_ix"), True),
        ("users.legacy_*", finding("remove_column", "users", "legacy_code", schema="app"), True),
        ("users.legacy_*", finding("remove_column", "orders", "legacy_code"), False),
        ("users.legacy_*", finding("add_table", "users"), False),
        ("users.*", finding("modify_type", "users", "email"), True),
        ("*.legacy_*", finding("remove_column", "orders", "legacy_code"), True),
        ("app.audit_*", finding("remove_table", "audit_log", schema="app"), True),
        ("app.audit_*", finding("remove_column", "audit_log", "who", schema="app"), True),
        ("app.audit_*", finding("remove_table", "audit_log"), False),
        ("app.audit_*", finding("remove_table", "audit_log", schema="billing"), False),
        # three segments: schema.table.object
        ("app.users.legacy_*", finding("remove_column", "users", "legacy_code", schema="app"), True),
        ("app.users.legacy_*", finding("remove_column", "users", "legacy_code"), False),
        ("app.users.legacy_*", finding("remove_table", "users", schema="app"), False),
        # case-sensitive
        ("Users", finding("add_table", "users"), False),
        ("Users", finding("add_table", "Users"), True),
        # kinds
        ("modify_comment *", finding("modify_comment", "users", "email"), True),
        ("modify_comment *", finding("modify_type", "users", "email"), False),
        ("modify_* users.email", finding("modify_nullable", "users", "email"), True),
        ("remove_index users.*", finding("remove_index", "users", "ix_email"), True),
        ("remove_index users.*", finding("add_index", "users", "ix_email"), False),
        ("remove_index users.*", finding("remove_index", "orders", "ix_total"), False),
        ("remove_index users", finding("remove_index", "users", "ix_email"), True),
        ("add_table_comment users", finding("add_table_comment", "users", object_type="table_comment"), True),
    ],
)
def test_matching(pattern: str, f: Finding, expected: bool) -> None:
    assert rule(pattern).matches(f) is expected


# --------------------------------------------------------------------------- applying rules and acceptances

EMAIL = finding("modify_type", "users", "email")
LEGACY = finding("remove_column", "users", "legacy_code")
AUDIT = finding("remove_table", "audit_log")
NICK = finding("add_column", "users", "nickname")
FINDINGS = tuple(sorted([EMAIL, LEGACY, AUDIT, NICK], key=Finding.sort_key))


def test_nothing_configured_keeps_everything_and_is_inactive() -> None:
    result = apply_policy(FINDINGS, [], [], environment="prod", today=TODAY)
    assert result.kept == FINDINGS and not result.active and result.summary == "" and result.notes == ()
    assert result.counts() == {"ignored": 0, "accepted": 0, "expired": 0, "unmatched": 0}


def test_rules_ignore_with_the_rule_and_keep_order() -> None:
    rules = [rule("audit_*", "audit trigger"), rule("users.legacy_*", "old importer")]
    result = apply_policy(FINDINGS, rules, [], environment="prod", today=TODAY)
    assert result.kept == (NICK, EMAIL)  # still in the findings' order
    assert [(x.finding, x.rule.pattern) for x in result.ignored] == [(AUDIT, "audit_*"), (LEGACY, "users.legacy_*")]
    assert result.active and result.hidden == 2 and result.summary == "2 ignored by rules"


def test_environment_rules_apply_to_their_environment_first() -> None:
    rules = [rule("users.*", "global reason"), rule("users.legacy_*", "prod reason", environment="prod"),
             rule("audit_*", "dev only", environment="dev")]
    prod = apply_policy(FINDINGS, rules, [], environment="prod", today=TODAY)
    assert [(x.finding.name, x.rule.reason) for x in prod.ignored] == [
        ("nickname", "global reason"), ("legacy_code", "prod reason"), ("email", "global reason")]
    assert prod.kept == (AUDIT,)
    dev = apply_policy(FINDINGS, rules, [], environment="dev", today=TODAY)
    assert dev.kept == () and [x.rule.reason for x in dev.ignored if x.finding is AUDIT] == ["dev only"]
    staging = apply_policy(FINDINGS, [rules[2]], [], environment="staging", today=TODAY)
    assert staging.kept == FINDINGS and not staging.active  # another environment's rule does not apply


@pytest.mark.parametrize(
    ("today", "accepted"),
    [(date(2025, 8, 29), True), (date(2025, 8, 30), True), (date(2025, 8, 31), False)],
    ids=["before", "on", "after"],
)
def test_an_acceptance_holds_up_to_and_including_its_expiry_date(today: date, accepted: bool) -> None:
    result = apply_policy(FINDINGS, [], [entry(EMAIL, expires=date(2025, 8, 30))], environment="prod", today=today)
    if accepted:
        assert EMAIL not in result.kept and ids(result.accepted) == [EMAIL.id] and result.expired == ()
        assert result.notes == () and result.summary == "1 accepted"
    else:
        assert result.kept == FINDINGS and result.accepted == ()  # the finding is back
        assert ids(result.expired) == [EMAIL.id] and result.expired_entry(EMAIL.id) == result.expired[0].entry
        assert result.expired_entry(NICK.id) is None
        assert result.summary == "1 acceptance expired"
        assert result.notes == (
            f"Acceptance expired on 2025-08-30: modify_type users.email ({EMAIL.id}), accepted by alice for prod "
            f"(widened by the DBA), is reported again; fix it, or renew it with "
            f"drift accept --env prod --id {EMAIL.id}.",
        )


def test_an_entry_matching_no_finding_is_reported_as_unmatched() -> None:
    gone = finding("modify_nullable", "orders", "total")
    old = finding("add_column", "orders", "note")
    entries = [entry(gone), entry(old, expires=date(2025, 1, 1)), entry(EMAIL)]
    result = apply_policy(FINDINGS, [], entries, environment="prod", today=TODAY)
    # Expired and gone: listed once, as unmatched (the fix is the same: remove the entry).
    assert [e.id for e in result.unmatched] == [old.id, gone.id] and result.expired == ()
    assert ids(result.accepted) == [EMAIL.id]
    assert result.summary == "1 accepted, 2 accepted entries matching nothing"
    assert result.notes[1] == (
        f"Accepted drift no longer found: modify_nullable orders.total ({gone.id}), accepted by alice for prod "
        f"until 2025-08-30, matches nothing in prod; if the drift is resolved, remove the entry from "
        f"drift-accepted.json."
    )


def test_global_and_environment_entries() -> None:
    entries = [entry(EMAIL, EVERY_ENVIRONMENT, expires=date(2025, 1, 1)), entry(EMAIL, "prod"), entry(NICK, "dev"),
               entry(LEGACY, EVERY_ENVIRONMENT)]
    prod = apply_policy(FINDINGS, [], entries, environment="prod", today=TODAY)
    # prod's own entry (not expired) wins over the expired one for every environment
    assert [(x.finding.id, x.entry.environment) for x in prod.accepted] == [(LEGACY.id, "*"), (EMAIL.id, "prod")]
    assert prod.expired == () and prod.unmatched == () and prod.kept == (AUDIT, NICK)
    staging = apply_policy(FINDINGS, [], entries, environment="staging", today=TODAY)
    assert ids(staging.expired) == [EMAIL.id] and ids(staging.accepted) == [LEGACY.id]
    assert "for every environment" in staging.notes[0]
    dev = apply_policy([AUDIT], [], entries, environment="dev", today=TODAY)
    assert [(e.id, e.environment) for e in dev.unmatched] == [(EMAIL.id, "*"), (LEGACY.id, "*"), (NICK.id, "dev")]


def test_a_rule_wins_over_an_acceptance_and_the_entry_is_not_unmatched() -> None:
    result = apply_policy(FINDINGS, [rule("users.email")], [entry(EMAIL)], environment="prod", today=TODAY)
    assert ids(result.ignored) == [EMAIL.id] and result.accepted == () and result.unmatched == ()


def test_a_report_can_be_given_instead_of_findings() -> None:
    result = apply_policy(build_report(list(FINDINGS)), [rule("audit_*")], [], environment="prod", today=TODAY)
    assert ids(result.ignored) == [AUDIT.id]


def test_policy_in_the_report_verdict_and_json() -> None:
    result = apply_policy(FINDINGS, [rule("audit_*", "audit trigger")], [entry(EMAIL), entry(AUDIT)],
                          environment="prod", today=TODAY)
    report = build_report(list(result.kept))
    report = Report(**{**report.__dict__, "policy": result, "notes": result.notes})
    assert report.verdict == "2 differences in 1 table (1 ignored by rules, 1 accepted)"
    data = report.to_dict()
    assert [f["id"] for f in data["findings"]] == [NICK.id, LEGACY.id]
    policy = data["policy"]
    assert policy["counts"] == {"ignored": 1, "accepted": 1, "expired": 0, "unmatched": 0}
    assert policy["ignored"] == [{"finding": AUDIT.to_dict(), "rule": {
        "pattern": "audit_*", "reason": "audit trigger", "environment": None, "section": "drift:ignore"}}]
    assert policy["accepted"][0]["acceptance"] == entry(EMAIL).to_dict()
    assert policy["accepted"][0]["finding"]["id"] == EMAIL.id
    json.dumps(data)  # plain data all through

    everything = apply_policy(FINDINGS, [rule("*")], [], environment="prod", today=TODAY)
    clean = Report(**{**build_report([]).__dict__, "policy": everything})
    assert clean.verdict == "No drift apart from what is ignored or accepted (4 ignored by rules; 5 tables compared)"
    assert not clean.has_drift


def test_a_report_without_a_policy_is_unchanged() -> None:
    report = build_report(list(FINDINGS))
    assert report.policy is None and "policy" not in report.to_dict()
    assert report.verdict == "4 differences in 2 tables"


def test_the_suggested_code_leaves_out_what_the_policy_set_aside() -> None:
    def coded(f: Finding) -> Finding:
        return f.replace(upgrade_code=f"up {f.name or f.table}", downgrade_code=f"down {f.name or f.table}")

    findings = [coded(f) for f in FINDINGS]
    guess = finding("rename_column_candidate", "users", "legacy_code -> nickname").replace(upgrade_code="rename")
    migration = SuggestedMigration(message="m", commands=("alembic revision --autogenerate -m m",),
                                   upgrade_code="all", downgrade_code="all down", review_notes=("first",))

    nothing = apply_policy(findings, [], [], environment="prod", today=TODAY)
    assert nothing.migration_code(findings, "all", "all down") == ("all", "all down")
    assert nothing.review_note is None and nothing.with_review_note(migration) is migration

    result = apply_policy(findings, [rule("audit_*")], [entry(EMAIL)], environment="prod", today=TODAY)
    assert result.migration_code([*result.kept, guess], "all", "all down") == (
        "up nickname\nup legacy_code", "down legacy_code\ndown nickname")
    note = ("Left out of the code above: 1 difference ignored by rules and 1 accepted; alembic revision "
            "--autogenerate still writes their ops, so delete those from the new file before upgrading.")
    assert result.review_note == note
    noted = result.with_review_note(migration)
    assert noted is not None and noted.review_notes == ("first", note)
    pending_only = SuggestedMigration(message="m", commands=("alembic upgrade head",), upgrade_code="",
                                      downgrade_code="")
    assert result.with_review_note(pending_only) is pending_only and result.with_review_note(None) is None

    accepted_only = apply_policy(findings, [], [entry(EMAIL), entry(NICK)], environment="prod", today=TODAY)
    assert accepted_only.review_note is not None
    assert accepted_only.review_note.startswith("Left out of the code above: 2 accepted differences; ")


# --------------------------------------------------------------------------- the accepted-drift file

EXPECTED_FILE = """\
{
  "schema_version": 1,
  "entries": [
    {
      "id": "%(legacy)s",
      "environment": "*",
      "kind": "remove_column",
      "schema": null,
      "table": "users",
      "name": "legacy_code",
      "reason": "kept for the old importer",
      "owner": "Zoë",
      "accepted_on": "2025-05-01",
      "expires": "2025-08-30"
    },
    {
      "id": "%(email)s",
      "environment": "prod",
      "kind": "modify_type",
      "schema": null,
      "table": "users",
      "name": "email",
      "reason": "widened by the DBA",
      "owner": "alice",
      "accepted_on": "2025-05-01",
      "expires": "2025-08-30",
      "ticket": "OPS-12"
    }
  ]
}
"""


def test_the_file_is_deterministic_and_round_trips() -> None:
    entries = [
        Acceptance(**{**entry(EMAIL).__dict__, "extra": {"ticket": "OPS-12"}}),
        entry(LEGACY, EVERY_ENVIRONMENT, owner="Zoë", reason="kept for the old importer"),
    ]
    text = dump_accepted(entries)
    assert text == EXPECTED_FILE % {"legacy": LEGACY.id, "email": EMAIL.id}
    assert dump_accepted(reversed(entries)) == text  # the order given does not matter
    again = parse_accepted(text)
    assert again == tuple(sorted(entries, key=Acceptance.sort_key))
    assert again[1].extra == {"ticket": "OPS-12"}  # a key added by hand survives a rewrite
    assert dump_accepted(again) == text


def test_write_and_read(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "accepted.json"
    assert read_accepted(path) == ()  # no file yet: nothing accepted
    write_accepted(path, [entry(EMAIL)])
    assert read_accepted(path) == (entry(EMAIL),)
    assert path.read_bytes().endswith(b"}\n") and not list(path.parent.glob(".*.tmp"))


def test_a_file_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^cannot write accepted\.json: .*; the accepted-drift file is unchanged$"):
        write_accepted(tmp_path / "blocker" / "accepted.json", [entry(EMAIL)])


def _doc(**changes: Any) -> str:
    raw = {**entry(EMAIL).to_dict(), **changes}
    return json.dumps({"schema_version": 1, "entries": [{k: v for k, v in raw.items() if v is not ...}]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema_version": 1, "entries": [}',
         r"^x\.json is not valid JSON \(line 1, column 35: .*\); fix it or restore"),
        ("[]", r'must be a JSON object with "schema_version" and a list of "entries"'),
        ('{"schema_version": 2, "entries": []}', r"has schema_version 2; this drift reads version 1"),
        (_doc(owner=" "), r"^x\.json entry 1 \(modify_type-\w+\) needs owner as non-empty text$"),
        (_doc(reason=...), r"entry 1 \(modify_type-\w+\) needs reason"),
        (_doc(id=...), r"entry 1 \(no id\) needs id"),
        (_doc(expires="30/08/2025"),
         r"entry 1 \(modify_type-\w+\) expires = '30/08/2025' is not a date; write it as YYYY-MM-DD"),
        (_doc(accepted_on=None), r"accepted_on = None is not a date"),
        (_doc(table=3), r"table must be text or null"),
        ('{"schema_version": 1, "entries": ["x"]}', r"entry 1 is not an object"),
    ],
)
def test_a_broken_file_is_a_config_error_saying_where(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_accepted(text, "x.json")


def test_the_same_acceptance_twice_is_an_error() -> None:
    text = json.dumps({"schema_version": 1, "entries": [entry(EMAIL).to_dict(), entry(EMAIL).to_dict()]})
    with pytest.raises(ConfigError, match=rf"accepts {EMAIL.id} in prod twice; keep one"):
        parse_accepted(text)


# --------------------------------------------------------------------------- accept()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "config.ini"
    path.write_text(
        "[drift]\nmodels = app:Base\naccepted_file = policy/accepted.json\n\n"
        "[prod]\nurl = sqlite:///prod.db\n\n[dev]\nurl = sqlite:///dev.db\n\n"
        "[drift:ignore]\naudit_* = audit trigger\n",
        encoding="utf-8",
    )
    return Config.load(path)


def checked(config: Config, findings: tuple[Finding, ...] = FINDINGS, env: str = "prod") -> Report:
    """What the check of ``env`` would report with the project's policy applied."""
    result = Policy.load(config).apply(findings, env, today=TODAY)
    return Report(**{**build_report(list(result.kept), environment=env).__dict__, "policy": result})


def test_accept_writes_entries_and_renews_them(config: Config) -> None:
    path = config.root / "policy" / "accepted.json"
    report = checked(config)
    done = accept(config, "prod", [EMAIL.id, NICK.id, EMAIL.id], "  widened by\n the DBA ", "alice",
                  date(2025, 8, 30), report=report, today=TODAY)
    assert done.path == path and done.renewed == ()
    assert [(e.id, e.environment, e.reason, e.accepted_on) for e in done.added] == [
        (EMAIL.id, "prod", "widened by the DBA", TODAY), (NICK.id, "prod", "widened by the DBA", TODAY)]
    assert read_accepted(path) == done.changed

    # The next check no longer reports them; naming one again renews it.
    report = checked(config)
    assert report.policy is not None
    assert report.findings == (LEGACY,) and ids(report.policy.accepted) == [NICK.id, EMAIL.id]
    later = date(2025, 7, 1)
    done = accept(config, "prod", [EMAIL.id], "still needed", "bob", date(2025, 12, 31), report=report, today=later)
    assert done.added == () and [(e.owner, e.accepted_on, e.expires) for e in done.renewed] == [
        ("bob", later, date(2025, 12, 31))]
    assert len(read_accepted(path)) == 2


def test_accept_everything_and_everywhere(config: Config) -> None:
    done = accept(config, "prod", None, "known", "alice", default_expiry(TODAY), report=checked(config),
                  everywhere=True, today=TODAY)
    # every finding shown (AUDIT is ignored by a rule, so it is not among them)
    assert sorted(e.id for e in done.added) == sorted([NICK.id, EMAIL.id, LEGACY.id])
    assert {e.environment for e in done.added} == {"*"} and {e.expires for e in done.added} == {date(2025, 8, 30)}
    assert checked(config, env="dev").findings == ()


def test_accepting_nothing_writes_nothing(config: Config) -> None:
    done = accept(config, "prod", None, "known", "alice", date(2025, 8, 30), report=checked(config, ()), today=TODAY)
    assert done.changed == () and not done.path.exists()


def test_accept_refuses_unknown_ignored_and_guessed_findings(config: Config) -> None:
    report = checked(config)
    with pytest.raises(UnknownFindingError, match=(
            rf"^no finding add_column-0000000000 in prod; findings there: {NICK.id}, {EMAIL.id}, {LEGACY.id}$")):
        accept(config, "prod", [EMAIL.id, "add_column-0000000000"], "r", "o", date(2025, 8, 30), report=report,
               today=TODAY)
    ignored = rf"^{AUDIT.id} is ignored in prod by \[drift:ignore\] audit_\* \(audit trigger\)"
    with pytest.raises(ConfigError, match=ignored):
        accept(config, "prod", [AUDIT.id], "r", "o", date(2025, 8, 30), report=report, today=TODAY)
    with pytest.raises(ConfigError, match=r"is a rename guess, not a difference"):
        accept(config, "prod", ["rename_column_candidate-0123456789"], "r", "o", date(2025, 8, 30), report=report,
               today=TODAY)
    with pytest.raises(UnknownFindingError, match=r"^no findings a-1, b-2 in prod; prod has no findings to accept$"):
        accept(config, "prod", ["a-1", "b-2"], "r", "o", date(2025, 8, 30), report=checked(config, ()), today=TODAY)
    assert not (config.root / "policy" / "accepted.json").exists()


def test_unknown_id_message_is_cut_to_ten(config: Config) -> None:
    many = tuple(finding("add_column", "t", f"c{i:02}") for i in range(13))
    with pytest.raises(UnknownFindingError, match=r", add_column-\w+ and 3 more$"):
        accept(config, "prod", ["x-1"], "r", "o", date(2025, 8, 30), report=checked(config, many), today=TODAY)


@pytest.mark.parametrize(
    ("reason", "owner", "expires", "message"),
    [
        (" ", "alice", date(2025, 8, 30), r"^the reason is empty; say why this drift is accepted \(--reason TEXT\)$"),
        ("r", "", date(2025, 8, 30), r"^the owner is empty"),
        ("r", "alice", date(2025, 5, 31), r"^the expiry date 2025-05-31 is in the past \(today is 2025-06-01 UTC\)$"),
    ],
)
def test_accept_needs_a_reason_an_owner_and_a_future_date(
    config: Config, reason: str, owner: str, expires: date, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        accept(config, "prod", [EMAIL.id], reason, owner, expires, report=checked(config), today=TODAY)


def test_accept_on_the_expiry_day_itself_is_allowed(config: Config) -> None:
    assert accept(config, "prod", [EMAIL.id], "r", "o", TODAY, report=checked(config), today=TODAY).added


def test_entries_for_an_environment_config_ini_lacks_are_a_warning(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    write_accepted(config.root / "policy" / "accepted.json", [entry(EMAIL, "qa"), entry(NICK, "*")])
    with caplog.at_level(logging.WARNING, logger="drift.policy"):
        Policy.load(config)
    assert [r.getMessage() for r in caplog.records] == [
        "accepted.json accepts drift in qa, which config.ini does not define; remove those entries"]


# --------------------------------------------------------------------------- a real check on SQLite

DATABASE = """
metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True), Column("email", String(50)),
      Column("legacy_code", String(10)))
Table("audit_log", metadata, Column("id", Integer, primary_key=True))
"""
MODELS = """
metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True), Column("email", String(50)),
      Column("nickname", String(30)))
"""
RULES = """
[drift:ignore]
audit_* = tables written by the audit trigger, not by the models

[drift:ignore:t]
users.legacy_* = columns kept for the old importer
"""


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


def every_finding(report: Report) -> tuple[Finding, ...]:
    """The check's findings before any policy (the same whether or not the check applies one itself).

    Rename guesses are left out: the check pairs only the findings the policy keeps (here the
    ignored users.legacy_code and the added users.nickname would otherwise make one).
    """
    hidden = [x.finding for x in (report.policy.ignored + report.policy.accepted)] if report.policy else []
    return tuple(sorted([f for f in (*report.findings, *hidden) if not f.kind.endswith("_candidate")],
                        key=Finding.sort_key))


def test_end_to_end_on_sqlite(tmp_path: Path) -> None:
    url = URL.create("sqlite+pysqlite", database=str(tmp_path / "app.db"))
    build(url, DATABASE)
    project = make_project(tmp_path, url, MODELS, extra_sections=RULES)
    config = Config.load(project.config_path)
    policy = Policy.load(config)

    report = drift.check(config, "t", attribute=False)
    raw = every_finding(report)
    assert [(f.kind, f.table, f.name) for f in raw] == [
        ("remove_table", "audit_log", None), ("add_column", "users", "nickname"),
        ("remove_column", "users", "legacy_code")]
    result = policy.apply(raw, "t", today=TODAY)
    assert [(x.finding.table, x.rule.pattern) for x in result.ignored] == [
        ("audit_log", "audit_*"), ("users", "users.legacy_*")]
    assert [f.name for f in result.kept] == ["nickname"]
    if report.policy is not None:  # the check applies the policy itself: the same split, and no rename guess
        assert report.findings == result.kept and report.policy.ignored == result.ignored

    nickname = result.kept[0]
    shown = Report(**{**report.__dict__, "findings": result.kept, "policy": result})
    accept(config, "t", [nickname.id], "ships next sprint", "alice", date(2025, 6, 30), report=shown, today=TODAY)
    policy = Policy.load(config)
    result = policy.apply(every_finding(drift.check(config, "t", attribute=False)), "t", today=TODAY)
    assert result.kept == () and ids(result.accepted) == [nickname.id] and result.summary == (
        "2 ignored by rules, 1 accepted")

    expired = policy.apply(raw, "t", today=date(2025, 7, 1))
    assert [f.name for f in expired.kept] == ["nickname"] and ids(expired.expired) == [nickname.id]

    execute(url, "ALTER TABLE users ADD COLUMN nickname VARCHAR(30)")  # the drift is fixed
    fixed = policy.apply(every_finding(drift.check(config, "t", attribute=False)), "t", today=TODAY)
    assert fixed.kept == () and [e.id for e in fixed.unmatched] == [nickname.id]
    assert "remove the entry from drift-accepted.json" in fixed.notes[0]


def _cli_has_accept() -> bool:
    from drift.cli import cli

    return "accept" in cli.commands


@pytest.mark.skipif(not _cli_has_accept(), reason="drift accept is not wired into the CLI yet")
def test_accept_through_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from drift.cli import cli

    url = URL.create("sqlite+pysqlite", database=str(tmp_path / "app.db"))
    build(url, DATABASE)
    project = make_project(tmp_path, url, MODELS, extra_sections=RULES)
    args = ["--env", "t", "--config", str(project.config_path)]

    def run(*argv: str) -> Any:
        return CliRunner().invoke(cli, list(argv), env={}, prog_name="drift")

    before = run("check", *args, "--format", "json", "--output", "-")
    assert before.exit_code == 1, before.output
    document = json.loads(before.stdout)
    assert document["policy"]["counts"]["ignored"] == 2
    (nickname,) = [f["id"] for f in document["findings"]]

    unknown = run("accept", *args, "--id", "add_column-0000000000", "--reason", "r", "--owner", "o")
    assert unknown.exit_code == 2 and f"findings there: {nickname}" in unknown.stderr

    done = run("accept", *args, "--id", nickname, "--reason", "ships next sprint", "--owner", "alice", "--days", "30")
    assert done.exit_code == 0, done.output
    assert nickname in done.stdout
    (written,) = read_accepted(tmp_path / "drift-accepted.json")
    assert (written.id, written.environment, written.owner) == (nickname, "t", "alice")

    after = run("check", *args, "--format", "json", "--output", "-")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["policy"]["counts"] == {"ignored": 2, "accepted": 1, "expired": 0, "unmatched": 0}


def test_errors_are_drift_errors() -> None:
    assert issubclass(UnknownFindingError, ConfigError) and issubclass(ConfigError, DriftError)
    assert UnknownFindingError("x").exit_status == 2
    assert isinstance(PolicyResult(environment="prod", today=TODAY).to_dict(), dict)


# --------------------------------------------------------------------------- docs/ignoring.md stays true

DOC = (Path(__file__).resolve().parent.parent / "docs" / "ignoring.md").read_text(encoding="utf-8")


def _block(language: str, containing: str) -> str:
    blocks = [b for b in DOC.split(f"```{language}\n")[1:] if containing in b.split("```", 1)[0]]
    assert blocks, f"docs/ignoring.md has no {language} block with {containing!r}"
    return blocks[0].split("```", 1)[0]


def test_doc_rules_parse(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text("[drift]\nmodels = app:Base\n\n[prod]\nurl = sqlite:///prod.db\n\n"
                    + _block("ini", "[drift:ignore]"), encoding="utf-8")
    rules = Policy.load(Config.load(path)).rules
    assert [(r.kind, r.target, r.environment) for r in rules] == [
        (None, ("audit_*",), None), (None, ("users", "legacy_*"), None), ("modify_comment", ("*",), None),
        ("remove_index", ("orders", "*"), None), (None, ("app", "tmp_*"), "prod")]


def test_doc_file_notes_and_json_fields() -> None:
    text = _block("json", '"schema_version"')
    (documented,) = parse_accepted(text)
    assert dump_accepted([documented]) == text  # the example is exactly what drift writes
    nickname = finding("add_column", "users", "nickname")
    assert documented.id == nickname.id

    expired = apply_policy([nickname], [], [documented], environment="prod", today=date(2026, 12, 26))
    assert f"note: {expired.notes[0]}\n" == _block("text", "Acceptance expired")
    gone = apply_policy([], [], [documented], environment="prod", today=date(2026, 12, 1))
    assert f"note: {gone.notes[0]}\n" == _block("text", "Accepted drift no longer found")

    assert set(re.findall(r"^\| `policy\.(\w+)`", DOC, flags=re.M)) == set(gone.to_dict())


@pytest.mark.skipif(not _cli_has_accept(), reason="drift accept is not wired into the CLI yet")
def test_doc_lists_every_accept_option() -> None:
    from drift.cli import cli

    for param in cli.commands["accept"].params:
        spellings = [opt for opt in param.opts if opt.startswith("--") and opt != "--help"]
        if spellings and spellings[0] not in ("--config", "--debug"):
            assert f"| `{spellings[0]}" in DOC, f"docs/ignoring.md does not list drift accept {spellings[0]}"
