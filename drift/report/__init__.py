"""Rendering: one :class:`~drift.findings.Report`, several formats.

JSON comes straight from the dataclasses; text (and the other formats) are
Jinja2 templates shipped as package data, with presentation only in them.
"""

from __future__ import annotations

from .render import FORMATS, EXTENSIONS, render
from .write import write_atomic

__all__ = ["FORMATS", "EXTENSIONS", "render", "write_atomic"]
