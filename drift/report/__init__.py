"""Rendering: one :class:`~drift.findings.Report`, several formats.

JSON comes straight from the dataclasses; HTML, Markdown and text are Jinja2
templates shipped as package data, drawn from one view model
(:mod:`drift.report.view`) so that every format says the same thing.
"""

from __future__ import annotations

from .render import EXTENSIONS, FORMATS, options_from_settings, render
from .write import write_atomic

__all__ = ["EXTENSIONS", "FORMATS", "options_from_settings", "render", "write_atomic"]
