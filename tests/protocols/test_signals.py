"""SIGTERM during a k-fold run or a sweep: delivered as an interrupt, and again if Python swallowed it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from dlrun.protocols import lifecycle
from dlrun.protocols.lifecycle import term_as_interrupt


def test_a_sigterm_swallowed_like_one_inside_a_gc_callback_is_delivered_again(monkeypatch):
    monkeypatch.setattr(lifecycle, "REINTERRUPT_SECONDS", 0.2)
    before = signal.getsignal(signal.SIGTERM)
    swallowed = 0
    with pytest.raises(KeyboardInterrupt):
        with term_as_interrupt():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1.0)
            except KeyboardInterrupt:
                swallowed += 1  # what Python does to an exception raised in a gc callback or __del__
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the block goes on working ...
                time.sleep(0.05)
    assert swallowed == 1  # ... until the second delivery ends it
    assert signal.getsignal(signal.SIGTERM) is before


def test_no_second_delivery_once_the_block_has_ended(monkeypatch):
    monkeypatch.setattr(lifecycle, "REINTERRUPT_SECONDS", 0.2)
    with pytest.raises(KeyboardInterrupt):
        with term_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)
    time.sleep(0.6)  # the thread wakes, sees the block is over, and stops without interrupting anything
