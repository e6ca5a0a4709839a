"""`channels.heap.settle`: what start-up built is frozen out of the collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from channels import heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_the_start_up_objects_and_widens_the_young_generation() -> None:
    kept = [{"survey": i} for i in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    # a collection now walks only what was made since
    assert len(gc.get_objects()) < gc.get_freeze_count()


@pytest.mark.usefixtures("restore_gc")
def test_an_export_inside_the_bot_keeps_what_start_up_froze() -> None:
    """`/export` runs in the serving bot: the export's collector policy must not undo `settle`
    (it once called gc.unfreeze(), leaving 0 objects frozen)."""
    from bot.export import collect_between_batches

    heap.settle()
    frozen = gc.get_freeze_count()
    with collect_between_batches() as between_batches:
        for _ in range(200):
            between_batches()
    assert gc.get_freeze_count() >= frozen
    assert gc.isenabled()
