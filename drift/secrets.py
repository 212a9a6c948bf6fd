"""Keep passwords out of everything drift prints, logs, raises or writes.

Every secret that config loading sees (a URL's password, a ``password`` key,
the value of a ``${VAR}`` used in one) is registered here once; :func:`mask`
then replaces it in any text. Exceptions, log records and reports all pass
through :func:`mask` before they leave the process.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL

MASK = "***"

#: Secrets shorter than this are masked only where they stand alone as a token:
#: a password ``ab`` must disappear from ``u:ab@host`` and ``'ab'`` but must not
#: turn every ``table`` into ``t***le``. Longer ones are masked wherever they occur.
MIN_SUBSTRING_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# user:password@ in any URL-looking text, even for secrets drift never saw.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*):(?P<pw>[^@\s]*)@")
# password=... in libpq-style DSNs and driver messages.
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s;&]+)")


def register(secret: str | None) -> None:
    """Remember ``secret`` (and its URL-encoded spellings) so :func:`mask` hides it."""
    global _pattern
    if not secret or not secret.strip():
        return
    spellings = {secret, quote(secret, safe=""), quote_plus(secret), _url_spelling(secret)}
    with _lock:
        before = len(_secrets)
        _secrets.update(s for s in spellings if s)
        if len(_secrets) != before:
            _pattern = _compile(_secrets)


def _url_spelling(secret: str) -> str:
    # SQLAlchemy escapes only a few characters when it renders a URL ("p w@x" -> "p w%40x"),
    # a spelling neither quote() nor quote_plus() produces.
    rendered = URL.create("x", username="u", password=secret, host="h").render_as_string(hide_password=False)
    return rendered[len("x://u:"):-len("@h")]


def _compile(secrets: set[str]) -> re.Pattern[str]:
    parts = []
    for secret in sorted(secrets, key=lambda s: (-len(s), s)):  # longest first: no half-masked spellings
        escaped = re.escape(secret)
        parts.append(escaped if len(secret) >= MIN_SUBSTRING_LENGTH else rf"(?<!\w){escaped}(?!\w)")
    return re.compile("|".join(parts))


def mask(text: object) -> str:
    """``text`` as a string with every registered secret and URL password replaced."""
    out = str(text)
    pattern = _pattern
    if pattern is not None:
        out = pattern.sub(MASK, out)
    out = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:{MASK}@", out)
    out = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", out)
    return out


class MaskingFormatter(logging.Formatter):
    """A formatter whose whole output — message, arguments and traceback — is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))
