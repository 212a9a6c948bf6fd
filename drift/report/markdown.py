"""Markdown escaping: names and comments that cannot break a ticket.

The report is pasted into GitHub and GitLab as is, so anything from a
database or the models must stay one inline span, one table cell, one list
item. The rules follow CommonMark and GitHub Flavored Markdown:

* inline code uses a backtick fence one longer than the longest run of
  backticks inside, padded with a space when the text starts or ends with a
  backtick or would lose a leading and trailing space;
* inside a table cell every ``|`` is written ``\\|`` (GFM splits cells before
  it parses code spans, so this holds inside code too);
* a newline becomes a space (or a ``<br>`` between the lines of a cell), since
  a newline ends a table row and can start a heading or a list;
* prose has the characters that start emphasis, links, HTML, entities or
  strike-through backslash-escaped, plus those that start a block at the
  beginning of a line.

Every function returns :class:`Markdown`, a ``str`` that the Markdown template
environment passes through unchanged; anything else is escaped as prose.

>>> code("a`b"), code("a|b", cell=True), text("<b>*x*</b>")
('``a`b``', '`a\\\\|b`', '\\\\<b\\\\>\\\\*x\\\\*\\\\</b\\\\>')
"""

from __future__ import annotations

import re
from typing import Iterable

_NEWLINES = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\v\f]")
_BACKTICKS = re.compile(r"`+")
# Always meaningful inline: escapes, code, emphasis, links, HTML and entities, strike-through, table pipes.
_INLINE = re.compile(r"([\\`*\[\]<>&~|])")
# '_' starts emphasis only at a word boundary, so snake_case names stay readable unescaped.
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What starts a block when it opens a line: an ATX heading, a bullet, a thematic break or
# setext underline, an ordered-list number. ('>' and '*' are escaped everywhere already.)
_BLOCK_START = re.compile(r"^([ \t]*)(#{1,6}(?=[ \t]|$)|[+\-](?=[ \t]|$)|[-=_](?=[ \t]*[-=_])|\d{1,9}(?=[.)](?:[ \t]|$)))")


class Markdown(str):
    """Text already in Markdown: templates print it without escaping it again."""


def one_line(value: object) -> str:
    return _NEWLINES.sub(" ", str(value))


def text(value: object, *, cell: bool = False) -> Markdown:
    """``value`` as prose: shown as written, never as markup.

    >>> text("a_b _c_ 1. [x](y)")
    'a_b \\\\_c\\\\_ 1. \\\\[x\\\\](y)'
    >>> text("# not a heading")
    '\\\\# not a heading'
    """
    out = one_line(value)
    out = _INLINE.sub(r"\\\1", out)
    out = _UNDERSCORE.sub(r"\\_", out)
    out = _BLOCK_START.sub(_escape_block_start, out)
    # ``cell`` is accepted for symmetry with :func:`code`: prose always escapes ``|``.
    return Markdown(out)


def _escape_block_start(match: re.Match[str]) -> str:
    lead, mark = match.group(1), match.group(2)
    if mark.isdigit():  # "1. text" would start an ordered list: escape the dot or parenthesis instead
        return f"{lead}{mark}\\"
    return f"{lead}\\{mark}"


def code(value: object, *, cell: bool = False) -> Markdown:
    """``value`` as inline code (an identifier, a type, a command).

    >>> code("``x``"), code("x"), code(" a ")
    ('``` ``x`` ```', '`x`', '`  a  `')
    """
    body = one_line(value)
    if not body:
        return Markdown("*(empty)*")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both ends have one, and a
    # backtick at either end would merge with the fence: pad in both cases.
    pad = body[0] == "`" or body[-1] == "`" or (body[0] == " " and body[-1] == " " and body.strip() != "")
    if pad:
        body = f" {body} "
    if cell:
        body = body.replace("|", "\\|")
    return Markdown(f"{fence}{body}{fence}")


def code_cell(value: object) -> Markdown:
    return code(value, cell=True)


def cell_lines(lines: Iterable[str], *, as_code: bool) -> Markdown:
    """Several lines in one table cell, joined with ``<br>`` (a raw newline would end the row)."""
    parts = [code(line, cell=True) if as_code else text(line, cell=True) for line in lines]
    return Markdown("<br>".join(parts))


def fence(value: object, lang: str = "") -> Markdown:
    """A fenced code block that no backtick run inside can close early.

    >>> print(fence("x = '```'", "python"))
    ````python
    x = '```'
    ````
    """
    body = str(value).rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    marks = "`" * max(3, longest + 1)
    return Markdown(f"{marks}{lang}\n{body}\n{marks}")


def indented(value: Markdown, spaces: int) -> Markdown:
    """Markdown already made safe (a :func:`fence`), each line indented to sit inside a list item.

    Only :class:`Markdown` is taken: indenting raw text would pass it through unescaped.

    >>> print(indented(fence("x = 1"), 2))
      ```
      x = 1
      ```
    """
    if not isinstance(value, Markdown):
        raise TypeError("indented() takes Markdown made by another filter (fence, code, text), not raw text")
    pad = " " * spaces
    return Markdown("\n".join(pad + line if line else line for line in value.split("\n")))


def link(url: object, label: object = None) -> Markdown:
    """``[label](<url>)``: the label as prose, the address in angle brackets so no character in it ends it early.

    >>> link("https://r.example/a b.html", "a b.html")
    '[a b.html](<https://r.example/a%20b.html>)'
    """
    target = one_line(url).replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return Markdown(f"[{text(label if label is not None else url)}](<{target}>)")


def finalize(value: object) -> object:
    """Jinja ``finalize`` for Markdown templates: escape by default, like HTML autoescaping.

    Numbers print as they are; :class:`Markdown` values (from the filters) pass through.
    """
    if isinstance(value, Markdown) or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if value is None:
        return ""
    return text(value)
