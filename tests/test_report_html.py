"""HTML reports: escaped, self-contained, and what a real browser shows.

The static tests parse the HTML with the standard library. The browser tests
open it in headless Chromium (Debian package ``chromium``), read the DOM after
any script would have run, and keep laptop- and phone-width screenshots in the
test's tmp_path for a person to look at.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from drift.report import render
from drift.report.view import build
from report_builders import IMG, SCRIPT, clean_report, drift_report, hostile_report, policy_report, risk_report

# Only what the templates write; anything else came from the data.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "header", "p", "h1", "h2", "h3", "code", "span", "dl",
    "dt", "dd", "time", "main", "section", "table", "thead", "tbody", "tr", "th", "td", "a", "ol", "ul", "li", "pre",
    "details", "summary", "article", "strong", "footer",
}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}


def parse(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


def assert_no_injected_markup(page: Elements) -> None:
    for tag, attrs in page.tags:
        assert tag in TEMPLATE_TAGS, f"<{tag}> is not written by the template: injected from the data"
        assert not any(name.startswith("on") for name in attrs), f"<{tag}> has an event handler: {attrs}"
        assert not any((value or "").strip().lower().startswith("javascript:") for value in attrs.values())
        if tag == "a":
            assert (attrs.get("href") or "#").startswith("#")


# --------------------------------------------------------------------------- static


def test_risks_and_set_aside_use_only_template_markup() -> None:
    for report in (risk_report(), policy_report()):
        assert_no_injected_markup(parse(render(report, "html")))


def test_hostile_names_render_as_text() -> None:
    text = render(hostile_report(), "html")
    page = parse(text)
    assert_no_injected_markup(page)
    assert "<script" not in text and "<img" not in text
    assert str(escape(SCRIPT)) in text
    assert str(escape(IMG)) in text
    assert "\u202e" not in text and "\u200b" not in text and "\x1b" not in text
    assert "users\\u202egpj.exe" in text


def test_self_contained_no_external_resources_no_scripts() -> None:
    for report in (drift_report(), hostile_report(), clean_report(), risk_report(), policy_report()):
        text = render(report, "html")
        page = parse(text)
        assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object", "embed")]
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.split("<body>")[0].replace(
            "postgresql+psycopg://", "")), "the head loads something from the network"
        assert "@import" not in text and "url(" not in text
        csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert csp and "default-src 'none'" in csp[0]["content"]


def test_title_verdict_and_anchors() -> None:
    report = drift_report()
    page = parse(render(report, "html"))
    assert page.title == "drift · prod · 8 differences in 4 tables"
    for f in report.findings:
        assert f.id in page.ids
    for table in build(report).tables:
        assert table.anchor in page.ids
    details = [a for t, a in page.tags if t == "details"]
    assert len(details) == len(report.tables_with_drift) and all("open" in a for a in details)


def test_severity_is_written_as_well_as_coloured() -> None:
    text = render(drift_report(), "html")
    assert re.search(r'class="badge sev-danger">Danger<', text)
    assert re.search(r'class="badge sev-warning">Warning<', text)
    assert "@media print" in text and "@media (max-width: 600px)" in text


def test_code_is_plain_pre_code() -> None:
    text = render(drift_report(), "html")
    assert "<pre><code>op.add_column(&#39;users&#39;" in text
    assert "<pre><code>alembic -x env=prod revision --autogenerate" in text


# --------------------------------------------------------------------------- browser

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("DRIFT_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{reason}; DRIFT_REQUIRE_SERVERS=1 makes this a failure")
    pytest.skip(reason)


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dump_dom(chromium: str, tmp_path: Path, page: Path) -> str:
    return run_chromium(chromium, tmp_path, "--virtual-time-budget=2000", "--dump-dom", page.as_uri())


def screenshot(chromium: str, tmp_path: Path, page: Path, name: str, *, width: int, height: int) -> Path:
    """A screenshot ``width`` CSS pixels wide; narrow widths go through an iframe (Chromium windows have a minimum)."""
    out = tmp_path / name
    target = page
    if width < 600:
        target = tmp_path / f"frame-{width}.html"
        target.write_text(
            f'<!doctype html><body style="margin:0"><iframe src="{page.as_uri()}" '
            f'style="border:0;width:{width}px;height:{height}px"></iframe></body>',
            encoding="utf-8",
        )
    run_chromium(chromium, tmp_path, f"--screenshot={out}", f"--window-size={max(width, 600)},{height}", target.as_uri())
    assert out.exists() and out.stat().st_size > 5_000, f"no screenshot at {out}"
    return out


def write_page(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.browser
@pytest.mark.parametrize("scenario", ["drift", "risk", "policy"])
def test_browser_shows_the_report(chromium: str, tmp_path: Path, scenario: str) -> None:
    report = {"drift": drift_report, "risk": risk_report, "policy": policy_report}[scenario]()
    page = write_page(tmp_path, f"{scenario}.html", render(report, "html"))
    dom = dump_dom(chromium, tmp_path, page)
    shown = parse(dom)
    # The risk report holds a <script> in an example value: the title says it never ran.
    assert shown.title == f"drift · prod · {report.verdict}"
    assert report.verdict in dom
    assert_no_injected_markup(shown)
    for f in report.findings:
        assert f.id in shown.ids, f"finding {f.id} has no element"
    if report.policy is not None:
        assert "set-aside" in shown.ids
    screenshot(chromium, tmp_path, page, f"{scenario}.png", width=1280, height=2400)
    screenshot(chromium, tmp_path, page, f"{scenario}-phone.png", width=390, height=3200)


@pytest.mark.browser
@pytest.mark.parametrize("without_csp", [False, True], ids=["as-written", "without-csp"])
def test_browser_runs_nothing_from_hostile_names(chromium: str, tmp_path: Path, without_csp: bool) -> None:
    report = hostile_report()
    text = render(report, "html")
    if without_csp:
        # The CSP would stop an injected script on its own; without it, escaping alone must hold.
        text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
        assert "Content-Security-Policy" not in text
    page = write_page(tmp_path, "hostile.html", text)
    dom = dump_dom(chromium, tmp_path, page)
    shown = parse(dom)
    assert "pwned" not in shown.title
    assert shown.title == f"drift · prod<b>&amp;`| · {report.verdict}"
    assert_no_injected_markup(shown)
    for f in report.findings:
        assert f.id in shown.ids
    assert html.escape(SCRIPT, quote=False) in dom
    screenshot(chromium, tmp_path, page, "hostile.png", width=1280, height=2000)


@pytest.mark.browser
def test_browser_shows_a_clean_report(chromium: str, tmp_path: Path) -> None:
    page = write_page(tmp_path, "clean.html", render(clean_report(), "html"))
    dom = dump_dom(chromium, tmp_path, page)
    assert "No drift: the database matches the models (3 tables compared)" in dom
    screenshot(chromium, tmp_path, page, "clean-phone.png", width=390, height=1200)


def test_a_secret_is_masked_before_it_is_escaped() -> None:
    from drift import secrets
    from drift.report import markdown as md
    from report_builders import column, finding, report

    secret = "Pw&<9\"zq'"
    secrets.register(secret)
    leaky = report([finding("add_column", "users", f"Column users.token exists ({secret})", name="token",
                            object_type="column", models=column("TEXT", comment=f"default key {secret}"))])
    for fmt in ("html", "markdown", "text", "json"):
        text = render(leaky, fmt)
        for spelling in (secret, str(escape(secret)), json.dumps(secret)[1:-1], md.text(secret)):
            assert spelling not in text, (fmt, spelling)
        assert "***" in text
