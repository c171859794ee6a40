"""Replicated redo: who recomputes a lost share, and how the copies are spread.

A lost share recomputed by one worker is lost again if that worker straggles again, and on
real Lambda traces stragglers persist (a worker that straggled is about twice as likely to
straggle next round). So a lost share goes to several workers and the first copy to arrive
is used. Helpers are taken most reliable first: the workers that straggled least recently,
which is what the session knows without timing data (the same on every clock and on replay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reliable_first(workers: Sequence[int], stragglers: Mapping[int, frozenset[int]], t: int,
                   window: int) -> list[int]:
    """``workers`` ordered by how long ago each last straggled within ``window`` rounds before
    round t (never first), then by index."""
    def last_straggled(worker: int) -> int:
        for back in range(1, window + 1):
            if worker in stragglers.get(t - back, ()):
                return window + 1 - back
        return 0

    return sorted(workers, key=lambda w: (last_straggled(w), w))


def assign_replicas(helpers: Sequence[int], lost: Sequence[tuple], copies: int) -> list[tuple]:
    """Deal ``helpers`` over the ``lost`` items round-robin, at most ``copies`` each: the first
    helpers (the most reliable) go to the first items, and every item gets its first extra copy
    before any gets a second. Returns [(helper, item)]."""
    pairs: list[tuple] = []
    if copies <= 0 or not lost:
        return pairs
    for i, helper in enumerate(helpers[:copies * len(lost)]):
        pairs.append((helper, lost[i % len(lost)]))
    return pairs
