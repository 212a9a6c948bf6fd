"""Renderer registry: format name → function(report, **options) → text.

JSON is the report's own data; HTML, Markdown and text are Jinja2 templates
(shipped as package data) drawn from one view model, :mod:`drift.report.view`.
HTML templates get their own environment with autoescaping on; the Markdown
environment escapes every printed value as prose unless a Markdown filter
already made it safe (see :mod:`drift.report.markdown`).

>>> from drift.report import render          # doctest: +SKIP
>>> html = render(report, "html")            # doctest: +SKIP
>>> md = render(report, "markdown", max_chars=20_000, full_report="reports/drift-prod.html")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import jinja2
import markupsafe

from .. import secrets
from ..errors import ConfigError
from ..findings import SCHEMA_VERSION, Report
from . import markdown as md
from .runview import RunView, build_diff, build_run, build_ticket, ticket_priority
from .view import SEVERITY_RANK, ReportView, build

if TYPE_CHECKING:
    from ..envdiff import EnvDiff
    from ..run import RunResult

Renderer = Callable[..., str]


@dataclass(frozen=True)
class RendererSpec:
    fn: Renderer
    extension: str
    options: frozenset[str]


RENDERERS: dict[str, RendererSpec] = {}
EXTENSIONS: dict[str, str] = {}

#: Characters that JSON may hold raw but an editor or a terminal would hide or reorder.
_JSON_HIDDEN = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")

DEFAULT_MARKDOWN_MAX_CHARS = 60_000


def renderer(name: str, extension: str, *, options: tuple[str, ...] = ()) -> Callable[[Renderer], Renderer]:
    """Register ``fn(report, **options)`` as format ``name``, written to ``*.extension``."""

    def register(fn: Renderer) -> Renderer:
        RENDERERS[name] = RendererSpec(fn, extension, frozenset(options))
        EXTENSIONS[name] = extension
        return fn

    return register


def _environment(*, autoescape: bool, finalize: Callable[[Any], Any] | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drift.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters["plural"] = lambda n, noun: f"{n} {noun}" if n == 1 else f"{n} {noun}s"
    return env


# Separate environments: autoescaping is a property of the environment, and
# the HTML one must never render a template that was written for plain text.
_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)
_MARKDOWN = _environment(autoescape=False, finalize=md.finalize)
_MARKDOWN.filters.update(
    code=md.code,
    code_cell=md.code_cell,
    cell=md.cell_lines,
    fence=md.fence,
    text=md.text,
    link=md.link,
    indented=md.indented,
    # Output of a Markdown macro: every value in it was escaped when the macro ran.
    rendered=md.Markdown,
    hashes=lambda n: md.Markdown("#" * max(1, min(6, int(n)))),
)


def template(name: str, **context: Any) -> str:
    """Render a plain-text template (no escaping)."""
    return _TEXT.get_template(name).render(**context)


def _masked(value: Any) -> Any:
    # Masked before dumping: once JSON-escaped, a password holding a quote or a backslash
    # would no longer match the secret it is masked by.
    if isinstance(value, str):
        return secrets.mask(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _json_text(data: Any) -> str:
    text = json.dumps(_masked(data), indent=2, ensure_ascii=False) + "\n"
    # Same data once parsed, but a bidi override or zero-width space shows as \\uXXXX in an editor.
    return _JSON_HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@renderer("json", "json")
def render_json(report: Report) -> str:
    return _json_text(report.to_dict())


@renderer("text", "txt")
def render_text(report: Report) -> str:
    return template("report.txt.j2", v=build(report), embedded=False)


@renderer("html", "html")
def render_html(report: Report) -> str:
    return _HTML.get_template("report.html.j2").render(
        v=build(report), schema_version=SCHEMA_VERSION, embedded=False, p="", h=0
    )


@renderer("markdown", "md", options=("max_chars", "full_report"))
def render_markdown(report: Report, *, max_chars: int | None = None, full_report: str | None = None) -> str:
    """GitHub/GitLab Markdown, at most ``max_chars`` characters (default 60,000).

    Over the cap, the header, the counts and the commands stay and the
    findings are cut, the most severe kept first; a note says how many were
    left out and where the full report is (``full_report``, a path or URL
    when the caller knows one).
    """
    limit = DEFAULT_MARKDOWN_MAX_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"max_chars must be a positive number of characters, not {limit}")
    view = build(report)

    def draw(v: ReportView) -> str:
        return _MARKDOWN.get_template("report.md.j2").render(
            v=v, max_chars=limit, full_report=full_report, schema_version=SCHEMA_VERSION,
            embedded=False, p=md.Markdown(""), h=0,
        )

    return _capped(view, draw, limit)


def _capped(view: ReportView, draw: Callable[[ReportView], str], limit: int) -> str:
    """The fullest drawing of ``view`` within ``limit``.

    What goes, in order: findings (least severe first), then the upgrade and
    downgrade code if dropping it shows more findings (``revision
    --autogenerate`` writes that code again anyway), then rows of the
    per-table summary. The header, the verdict and the commands always stay.
    """
    full = draw(view)
    if len(full) <= limit:
        return full
    # The "Set aside" lists go first, down to their counts: nothing in them is left to act on
    # but an expired acceptance, whose finding is among the findings again.
    view = view.aside_counted()
    full = draw(view)
    if len(full) <= limit:
        return full
    order = view.priority_order()

    def most(n_max: int, attempt: Callable[[int], str]) -> tuple[int, str | None]:
        # Output length grows with n, so a binary search finds the largest n that fits.
        lo, hi, best = 0, n_max, (-1, None)
        while lo <= hi:
            mid = (lo + hi) // 2
            out = attempt(mid)
            if len(out) <= limit:
                best, lo = (mid, out), mid + 1
            else:
                hi = mid - 1
        return best

    shown, out = most(len(order) - 1, lambda n: draw(view.limited(order[:n])))
    shown_without_code, out_without_code = most(
        len(order) - 1, lambda n: draw(view.limited(order[:n], show_code=False))
    )
    if out is not None and shown >= shown_without_code:
        return out
    if out_without_code is not None:
        return out_without_code
    rows, out = most(
        len(view.table_counts) - 1, lambda n: draw(view.limited((), show_code=False, table_counts=n))
    )
    # A cap too small even for the header and the commands still gets them: they are what to act on.
    return out if out is not None else draw(view.limited((), show_code=False, table_counts=0))


def render(report: Report, fmt: str, **options: Any) -> str:
    """``report`` in format ``fmt``; every secret drift knows of is masked on the way out.

    ``options`` may hold settings for several formats (the CLI passes one set
    to all); each renderer gets those it declares. An option no renderer
    knows is a ``TypeError``, so a misspelt one does not pass silently.
    """
    spec = RENDERERS[fmt]
    known = set().union(*(s.options for s in RENDERERS.values()))
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown render option(s): {', '.join(unknown)}")
    mine = {k: v for k, v in options.items() if k in spec.options and v is not None}
    return secrets.mask(spec.fn(report, **mine))


def options_from_settings(settings: Mapping[str, str]) -> dict[str, Any]:
    """Render options from the ``[drift]`` section of config.ini, for :func:`render`.

    ``markdown_max_chars = 30000`` caps Markdown reports (default 60,000).

    >>> options_from_settings({"markdown_max_chars": "30000"})
    {'max_chars': 30000}
    """
    options: dict[str, Any] = {}
    raw = settings.get("markdown_max_chars")
    if raw is not None and raw.strip():
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(
                f"[drift] markdown_max_chars = {raw!r} is not a positive whole number of characters "
                f"(default {DEFAULT_MARKDOWN_MAX_CHARS})"
            )
        options["max_chars"] = value
    return options


FORMATS = RENDERERS


def ticket_max_chars(settings: Mapping[str, str]) -> int | None:
    """``[drift] ticket_max_chars`` (default 30,000): the size cap of ``--ticket``.

    >>> ticket_max_chars({"ticket_max_chars": "20000"})
    20000
    """
    raw = settings.get("ticket_max_chars")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            f"[drift] ticket_max_chars = {raw!r} is not a positive whole number of characters "
            f"(default {DEFAULT_TICKET_MAX_CHARS})"
        )
    return value


# --------------------------------------------------------------------------- several environments


def _fragment(fmt: str, v: ReportView, prefix: str, **extra: Any) -> str:
    """One environment's report as a section of a larger one: no page around it, ids prefixed, headings one down."""
    if fmt == "html":
        return _HTML.get_template("report.html.j2").render(
            v=v, schema_version=SCHEMA_VERSION, embedded=True, p=prefix, h=1
        )
    if fmt == "markdown":
        return _MARKDOWN.get_template("report.md.j2").render(
            v=v, schema_version=SCHEMA_VERSION, embedded=True, p=md.Markdown(prefix), h=1, **extra
        )
    return template("report.txt.j2", v=v, embedded=True)


def _draw_run(fmt: str, r: RunView, views: Sequence[ReportView | None], **extra: Any) -> str:
    fragments = [
        _fragment(fmt, v, e.prefix, **extra) if v is not None else "" for e, v in zip(r.environments, views)
    ]
    context = {"r": r, "schema_version": SCHEMA_VERSION}
    if fmt == "html":
        # Each fragment was rendered, and escaped, by the HTML environment itself.
        return _HTML.get_template("run.html.j2").render(fragments=[markupsafe.Markup(f) for f in fragments], **context)
    if fmt == "markdown":
        return _MARKDOWN.get_template("run.md.j2").render(fragments=[md.Markdown(f) for f in fragments], **context)
    width = max((len(e.name) for e in r.environments), default=0)
    return template("run.txt.j2", fragments=fragments, width=width, **context)


def render_run(result: RunResult, fmt: str, *, max_chars: int | None = None, full_report: str | None = None) -> str:
    """A run over several environments in ``fmt``: one report, a section per environment.

    Markdown is capped like a one-environment report (``max_chars``, 60,000
    by default): findings are left out across all environments, the least
    severe first, then the code; the overview, the comparison and the
    commands stay.
    """
    if fmt == "json":
        return secrets.mask(_json_text(result.to_dict()))
    if fmt not in ("html", "markdown", "text"):
        raise ValueError(f"unknown format {fmt!r}")
    r = build_run(result)
    views = [e.report for e in r.environments]
    if fmt != "markdown":
        return secrets.mask(_draw_run(fmt, r, views))
    limit = DEFAULT_MARKDOWN_MAX_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"max_chars must be a positive number of characters, not {limit}")
    extra = {"max_chars": limit, "full_report": full_report}
    return secrets.mask(_capped_run(r, views, lambda vs: _draw_run("markdown", r, vs, **extra), limit))


def _capped_run(
    r: RunView, views: Sequence[ReportView | None], draw: Callable[[Sequence[ReportView | None]], str], limit: int
) -> str:
    full = draw(views)
    if len(full) <= limit:
        return full
    views = [v.aside_counted() if v is not None else None for v in views]
    full = draw(views)
    if len(full) <= limit:
        return full
    # Most severe first across environments; within a severity, environment order, then report order.
    severity = {(i, f.id): SEVERITY_RANK.get(f.severity, 0)
                for i, v in enumerate(views) if v is not None for t in v.tables for f in t.findings}
    order = [(i, fid) for i, v in enumerate(views) if v is not None for fid in v.priority_order()]
    order.sort(key=lambda item: (-severity.get(item, 0), item[0]))

    def limited(n: int, show_code: bool) -> list[ReportView | None]:
        kept: dict[int, list[str]] = {}
        for index, fid in order[:n]:
            kept.setdefault(index, []).append(fid)
        return [v.limited(kept.get(i, ()), show_code=show_code) if v is not None else None
                for i, v in enumerate(views)]

    def most(show_code: bool) -> tuple[int, str | None]:
        lo, hi, best = 0, len(order) - 1, (-1, None)
        while lo <= hi:
            mid = (lo + hi) // 2
            out = draw(limited(mid, show_code))
            if len(out) <= limit:
                best, lo = (mid, out), mid + 1
            else:
                hi = mid - 1
        return best

    shown, out = most(True)
    shown_without_code, out_without_code = most(False)
    if out is not None and shown >= shown_without_code:
        return out
    if out_without_code is not None:
        return out_without_code
    # A cap too small even for the overview still gets it: it is what to act on.
    return draw(limited(0, False))


def render_diff(d: EnvDiff, fmt: str, *, generated_at: str = "", tool_version: str = "") -> str:
    """The comparison of two environments on its own (``drift diff``)."""
    if fmt == "json":
        return secrets.mask(_json_text(d.to_dict()))
    view = build_diff(d)
    context = {"d": view, "schema_version": SCHEMA_VERSION, "generated_at": generated_at, "tool_version": tool_version}
    if fmt == "html":
        return secrets.mask(_HTML.get_template("envdiff.html.j2").render(**context))
    if fmt == "markdown":
        return secrets.mask(_MARKDOWN.get_template("envdiff.md.j2").render(**context))
    if fmt == "text":
        return secrets.mask(template("envdiff.txt.j2", **context))
    raise ValueError(f"unknown format {fmt!r}")


DEFAULT_TICKET_MAX_CHARS = 30_000


def render_ticket(
    result: RunResult, *, link: str | None = None, link_label: str | None = None, max_chars: int | None = None
) -> str:
    """A Markdown ticket body for a (nightly) run: verdict, table, comparison, what changed; linking the full report.

    Kept under ``max_chars`` (30,000 by default, under Jira's 32,767 and
    GitHub's 65,536): the comparison comes first, then new findings, then
    resolved, then still open; whatever does not fit is counted, not listed.
    """
    limit = DEFAULT_TICKET_MAX_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"max_chars must be a positive number of characters, not {limit}")
    r = build_run(result)
    tpl = _MARKDOWN.get_template("ticket.md.j2")

    def draw(keep: Sequence[str] | None) -> str:
        return tpl.render(t=build_ticket(r, link=link, link_label=link_label, keep=keep))

    full = draw(None)
    if len(full) <= limit:
        return secrets.mask(full)
    order = ticket_priority(r)
    lo, hi, best = 0, len(order) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        out = draw(order[:mid])
        if len(out) <= limit:
            best, lo = out, mid + 1
        else:
            hi = mid - 1
    return secrets.mask(best if best is not None else draw(()))
