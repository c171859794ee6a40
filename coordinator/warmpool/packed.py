"""Many streams as one set of flat arrays, so every policy runs one compiled pass over all of them.

A list of ``Stream`` objects costs a Python call (and a few numpy calls) per stream and policy:
with 10,000 apps and a dozen policy runs, that overhead alone was most of a minute. ``Packed``
holds the same data back to back (stream ``s`` owns calls ``offsets[s]:offsets[s + 1]``), and a
``PackedOutcome`` holds what a policy did: one cold flag per call and the idle seconds of one
environment per stream. ``Packed.of`` and ``PackedOutcome.split`` convert from and to the list
form the small tests and the planned job streams use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coordinator.warmpool.workload import Stream


@dataclass(frozen=True)
class Packed:
    """Streams back to back; per call: times, ends, requests, costs; per stream: the rest."""

    offsets: np.ndarray  # int64, streams + 1
    times: np.ndarray  # float64 per call, sorted inside each stream
    ends: np.ndarray  # float64 per call: when the call's execution ends
    requests: np.ndarray  # float64 per call: invocations the call stands for
    costs: np.ndarray  # float64 per call: cold-start seconds if it is cold
    memory_gb: np.ndarray  # float64 per stream
    weight: np.ndarray  # int64 per stream: identical environments
    func: np.ndarray  # int64 per stream: the function (or app) it belongs to
    region: np.ndarray  # int64 per stream: index into ``regions``
    regions: tuple[str, ...]
    planned: np.ndarray  # bool per stream
    layer: np.ndarray  # int64 per stream: first environment index (1-based)

    @property
    def streams(self) -> int:
        return len(self.offsets) - 1

    @property
    def calls(self) -> int:
        return len(self.times)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def stream_of_call(self) -> np.ndarray:
        """The stream index of every call."""
        return np.repeat(np.arange(self.streams), self.lengths())

    def select(self, keep: np.ndarray) -> Packed:
        """The streams where ``keep`` (bool per stream) is true, in order (views, no copy,
        when they are one contiguous run: the background before the planned workers)."""
        chosen = np.flatnonzero(keep)
        if len(chosen) == 0 or chosen[-1] - chosen[0] + 1 == len(chosen):
            return self.slice(int(chosen[0]) if len(chosen) else 0,
                              int(chosen[-1]) + 1 if len(chosen) else 0)
        lengths = self.lengths()[keep]
        calls = np.repeat(keep, self.lengths())
        per_call = {name: getattr(self, name)[calls] for name in PER_CALL}
        per_stream = {name: getattr(self, name)[keep] for name in PER_STREAM}
        return Packed(np.r_[0, np.cumsum(lengths)].astype(np.int64), **per_call,
                      **per_stream, regions=self.regions)

    @classmethod
    def of(cls, streams: list[Stream]) -> Packed:
        """Pack a list of streams (no copies beyond one concatenation per array)."""
        lengths = np.array([len(s.times) for s in streams], dtype=np.int64)
        regions = tuple(sorted({s.region for s in streams}))
        code = {region: i for i, region in enumerate(regions)}
        times = _cat([np.asarray(s.times, dtype=float) for s in streams])
        ends = _cat([np.asarray(s.ends, dtype=float) for s in streams])
        return cls(
            offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64), times=times, ends=ends,
            requests=_cat([np.asarray(s.requests, dtype=float) for s in streams]),
            costs=_cat([np.asarray(s.costs, dtype=float) for s in streams]),
            memory_gb=np.array([s.memory_gb for s in streams], dtype=float),
            weight=np.array([s.weight for s in streams], dtype=np.int64),
            func=np.array([s.func for s in streams], dtype=np.int64),
            region=np.array([code[s.region] for s in streams], dtype=np.int64),
            regions=regions, planned=np.array([s.planned for s in streams], dtype=bool),
            layer=np.array([s.layer for s in streams], dtype=np.int64))

    def unpack(self) -> list[Stream]:
        """The list form (per-call durations, folded calls kept)."""
        result = []
        for s in range(self.streams):
            a, b = self.offsets[s], self.offsets[s + 1]
            result.append(Stream(int(self.func[s]), int(self.layer[s]), self.times[a:b],
                                 self.costs[a:b], self.ends[a:b] - self.times[a:b],
                                 float(self.memory_gb[s]), int(self.weight[s]),
                                 self.regions[self.region[s]], bool(self.planned[s]),
                                 self.requests[a:b]))
        return result

    def slice(self, lo: int, hi: int) -> Packed:
        """Streams ``lo:hi`` as views of these arrays."""
        a, b = self.offsets[lo], self.offsets[hi]
        per_call = {name: getattr(self, name)[a:b] for name in PER_CALL}
        per_stream = {name: getattr(self, name)[lo:hi] for name in PER_STREAM}
        return Packed(self.offsets[lo:hi + 1] - a, **per_call, **per_stream,
                      regions=self.regions)

    def concat(self, other: Packed) -> Packed:
        """Both sets of streams, ``other``'s after these (region codes merged)."""
        regions = tuple(sorted(set(self.regions) | set(other.regions)))
        code = {region: i for i, region in enumerate(regions)}
        remap = [np.array([code[r] for r in part.regions], dtype=np.int64)
                 for part in (self, other)]
        offsets = np.r_[self.offsets, self.offsets[-1] + other.offsets[1:]].astype(np.int64)
        per_call = {n: np.concatenate([getattr(self, n), getattr(other, n)]) for n in PER_CALL}
        per_stream = {n: np.concatenate([getattr(self, n), getattr(other, n)])
                      for n in PER_STREAM}
        per_stream["region"] = np.concatenate([m[part.region] if len(part.region) else
                                               part.region for m, part in
                                               zip(remap, (self, other), strict=True)])
        return Packed(offsets, **per_call, **per_stream, regions=regions)

    def before(self, until_s: float) -> Packed:
        """The streams as seen before ``until_s``: later calls dropped, empty streams too."""
        keep = self.times < until_s
        kept = np.add.reduceat(keep, self.offsets[:-1]) if self.calls else np.zeros(0, int)
        kept = np.where(self.lengths() > 0, kept, 0)
        nonempty = kept > 0
        offsets = np.r_[0, np.cumsum(kept[nonempty])].astype(np.int64)
        per_call = {name: getattr(self, name)[keep] for name in PER_CALL}
        per_stream = {name: getattr(self, name)[nonempty] for name in PER_STREAM}
        return Packed(offsets, **per_call, **per_stream, regions=self.regions)


PER_CALL = ("times", "ends", "requests", "costs")
PER_STREAM = ("memory_gb", "weight", "func", "region", "planned", "layer")


@dataclass
class Outcome:
    """What one policy did to one stream: a cold-start mask over its calls and idle seconds."""

    cold: np.ndarray  # bool per call
    idle_s: float  # per environment of the stream (multiply by weight)


@dataclass
class PackedOutcome:
    """What one policy did to packed streams: cold flags per call, idle seconds per stream
    (of one environment: multiply by the stream's weight)."""

    cold: np.ndarray  # bool per call
    idle_s: np.ndarray  # float64 per stream

    @classmethod
    def empty(cls, packed: Packed) -> PackedOutcome:
        return cls(np.zeros(packed.calls, dtype=bool), np.zeros(packed.streams))

    def split(self, packed: Packed) -> list:
        """One ``Outcome`` per stream."""
        return [Outcome(self.cold[packed.offsets[s]:packed.offsets[s + 1]],
                        float(self.idle_s[s])) for s in range(packed.streams)]


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


def packed(streams) -> Packed:
    """``streams`` as ``Packed`` (already packed: as is)."""
    return streams if isinstance(streams, Packed) else Packed.of(list(streams))
