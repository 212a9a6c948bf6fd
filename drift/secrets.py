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

MASK = "***"

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
    if not secret or len(secret) < 1:
        return
    spellings = {secret, quote(secret, safe=""), quote_plus(secret)}
    with _lock:
        before = len(_secrets)
        _secrets.update(s for s in spellings if s)
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


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
