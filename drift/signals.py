"""SIGTERM as Ctrl-C, so a scheduler's stop still runs every cleanup.

A nightly job is stopped with SIGTERM (systemd, cron wrappers, CI timeouts).
Inside :func:`terminate_raises` that signal raises ``KeyboardInterrupt``, so
``finally`` blocks — dropping scratch databases, removing temporary report
files — run exactly as they do for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt inside the block.

    Only the main thread may install a handler; called from any other (a
    server, a serverless runtime, one of a run's worker threads), the block
    leaves signals to its host.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
