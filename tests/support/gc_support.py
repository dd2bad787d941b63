"""The test process's garbage collector settings, kept from a test that runs `worker.main`."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def restored_gc() -> Iterator[None]:
    """Whatever the block does to the collector (`worker.tune_gc`), undone afterwards."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
