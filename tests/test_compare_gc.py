"""The garbage-collector settings a comparison uses are its own: put back afterwards, also when it fails."""

from __future__ import annotations

import gc
import threading

import pytest

from drift.compare import YOUNG_THRESHOLD, fewer_collections


def test_settings_are_put_back_and_nested_uses_share_them() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        assert gc.get_freeze_count() > 0
        with fewer_collections():  # a second comparison at the same time (another thread)
            assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)  # still the first one's
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_put_back_after_an_error_and_across_threads() -> None:
    before = gc.get_threshold()
    inside = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with fewer_collections():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(RuntimeError):
        with fewer_collections():
            raise RuntimeError("comparison failed")
    assert gc.get_freeze_count() > 0  # the other thread's comparison is still running
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
