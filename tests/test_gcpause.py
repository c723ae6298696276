"""The garbage-collector pause of bulk operations (capstone.gcpause) always gives the collector back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from capstone.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_running() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_running_after_even_on_error() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_and_overlapping_pauses_resume_when_the_last_ends() -> None:
    inner_started, outer_may_end = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inner_started.set()
            outer_may_end.wait(5)

    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
        thread = threading.Thread(target=other)
        thread.start()
        assert inner_started.wait(5)
    assert not gc.isenabled()  # the other thread's import is still running
    outer_may_end.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
