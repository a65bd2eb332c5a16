"""Pausing CPython's cyclic garbage collector around work that builds a big, acyclic heap."""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block without CPython's cyclic garbage collector, then move what it allocated
    straight to the oldest generation.

    A parse allocates about ten container objects per task and keeps them all (none forms a
    cycle). With the collector on, it re-scans the growing heap again and again; merely
    re-enabling it afterwards leaves a million young objects that the next allocations scan
    three times over, young, middle and old generation: at 100k tasks that was more than
    half of `ready --json` (see docs/performance.md). gc.freeze() + gc.unfreeze() puts
    every tracked object in the oldest generation without a scan (documented behaviour of
    unfreeze), so nothing is leaked: a later full collection still sees them all.

    Nested or concurrent pauses (threads reading the store) are safe: only a pause that found
    the collector on turns it back on, so it always ends up as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
