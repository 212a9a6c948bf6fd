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
from typing import Any, Callable, Mapping

import jinja2

from .. import secrets
from ..errors import ConfigError
from ..findings import SCHEMA_VERSION, Report
from . import markdown as md
from .view import ReportView, build

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


@renderer("json", "json")
def render_json(report: Report) -> str:
    text = json.dumps(_masked(report.to_dict()), indent=2, ensure_ascii=False) + "\n"
    # Same data once parsed, but a bidi override or zero-width space shows as \\uXXXX in an editor.
    return _JSON_HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
