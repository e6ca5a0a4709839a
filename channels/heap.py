"""Garbage-collector settings for a serving process (the bot, the web channel): called by the
entry points only (`consultbot run`, `consultbot web`, the staff commands), never by a library
module.

Started, the bot holds some 300,000 long-lived objects (aiogram's and pydantic's models, the
survey, SQLAlchemy's compiled statements) that will never be garbage. CPython's full collections
walk all of them: under load, each one stopped the event loop for 100 to 350 ms, which was most of
the bot's p99 latency. Once everything is built, `settle` collects what start-up left over and
moves the survivors to the permanent generation (`gc.freeze`), which collections do not walk.

Handling an update makes a few thousand short-lived objects; with the default threshold (700)
the youngest generation was collected several times per update and the survivors of those
collections (objects of updates still in flight) were promoted and walked again. A larger
threshold lets most of them die first: fewer, cheaper collections for the same garbage.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 10_000
"""Allocations (net of deallocations) of container objects between young collections."""


def settle() -> None:
    """Call once the process has built everything it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    log.info(
        "heap settled: %d objects frozen, young collections every %d allocations",
        gc.get_freeze_count(),
        YOUNG_THRESHOLD,
    )


def freeze_built() -> None:
    """For a staff command about to stream many rows: what it has built so far (survey, engine,
    modules) is left out of the collections that run between batches."""
    gc.collect()
    gc.freeze()
