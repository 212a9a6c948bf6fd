"""Atomic report writes: a temporary file in the same folder, then a rename.

A crash, Ctrl-C or full disk mid-write leaves the earlier report as it was
and no partial file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import ReportWriteError


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ReportWriteError(
            f"cannot write report {str(target)!r}: {exc.strerror or exc}; choose another --output"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ReportWriteError(
                f"cannot write report {str(target)!r}: {exc.strerror or exc}; the earlier report is unchanged"
            ) from None
        raise
    return target
