"""The worker process's garbage collector: young collections far apart, the start-up heap
frozen out of every collection (see `worker.GC_THRESHOLDS`)."""

from __future__ import annotations

import gc

from tests.support.gc_support import restored_gc
from worker import GC_THRESHOLDS, tune_gc


def test_tuning_spaces_young_collections_and_freezes_the_start_up_heap() -> None:
    with restored_gc():
        default_first = gc.get_threshold()[0]
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > default_first
        assert gc.get_freeze_count() > 0
