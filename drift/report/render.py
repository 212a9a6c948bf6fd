"""Renderer registry: format name → function(report) → text."""

from __future__ import annotations

import json
from typing import Any, Callable

import jinja2

from .. import secrets
from ..findings import Report

Renderer = Callable[[Report], str]
RENDERERS: dict[str, Renderer] = {}
EXTENSIONS: dict[str, str] = {}


def renderer(name: str, extension: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[name] = fn
        EXTENSIONS[name] = extension
        return fn

    return register


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drift.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["plural"] = lambda n, noun: f"{n} {noun}" if n == 1 else f"{n} {noun}s"
    return env


_TEXT = _environment(autoescape=False)


def template(name: str, **context: Any) -> str:
    return _TEXT.get_template(name).render(**context)


@renderer("json", "json")
def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


@renderer("text", "txt")
def render_text(report: Report) -> str:
    return template("report.txt.j2", report=report)


def render(report: Report, fmt: str) -> str:
    """``report`` in format ``fmt``; every secret drift knows of is masked on the way out."""
    return secrets.mask(RENDERERS[fmt](report))


FORMATS = RENDERERS
