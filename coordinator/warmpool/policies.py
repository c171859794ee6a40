"""Keep-alive policies, each deciding per environment stream when an environment is loaded.

Per-stream policies see the idle times (gap from the end of one execution to the next call) and
return, for the gap after each execution, one or two loaded bands ``[a, b]`` relative to that
end: the next call is warm iff the gap falls in a band or is zero (still loaded), and the
environment idles ``max(0, min(b, gap) - a)`` in every band the gap reaches (a = 0 means "stay
loaded", a > 0 means "unload, pre-warm at a"). Every policy runs on all streams at once
(``packed_runs``); ``run`` on a list of streams packs them. FaasCache is global per region (a
memory-bounded cache) and lives in ``faascache.py``.

Sources: fixed keep-alive (Huawei 60 s, AWS-era 10 min); hybrid histogram (Shahrad et al.,
"Serverless in the Wild", ATC 2020: 1-minute bins over 4 h, pre-warm at the 5th percentile minus
10 %, keep alive until the 99th percentile plus 10 %, the whole range when the histogram is not
representative (CV of bin counts < 2), a time-series forecast when over half the idle times fall
out of range).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool import forecast_loops, packed_runs, window_loops
from coordinator.warmpool.packed import Outcome, Packed, PackedOutcome, packed
from coordinator.warmpool.workload import Stream

__all__ = ["HybridHistogram", "IdleForecast", "KeepAlive", "Outcome", "QuantileWindow",
           "ar1_log_forecast", "gaps", "keep_alive_cold"]


def gaps(times: np.ndarray, duration_s: float | np.ndarray) -> np.ndarray:
    """Idle time before each call after the first: next start minus previous end (>= 0).

    ``duration_s`` is one execution time for all calls or one per call.
    """
    duration = np.asarray(duration_s, dtype=float)
    if duration.ndim:
        return np.maximum(times[1:] - times[:-1] - duration[:-1], 0.0)
    return np.maximum(np.diff(times) - duration, 0.0)


def keep_alive_cold(times: np.ndarray, duration_s: float, keep_alive_s: float) -> np.ndarray:
    """Cold-start mask under a fixed keep-alive reset by every call (the first call is cold)."""
    return np.r_[True, gaps(times, duration_s) > keep_alive_s] if len(times) else np.zeros(0, bool)


class StreamPolicy:
    """A policy that decides each stream on its own history."""

    name = "stream-policy"

    def run(self, streams, horizon_s: float, scored_from_s: float = 0.0) -> list[Outcome]:
        """One ``Outcome`` per stream of ``streams`` (a list, or ``Packed``)."""
        p = packed(streams)
        return self.run_packed(p, horizon_s, scored_from_s).split(p)

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        raise NotImplementedError


class KeepAlive(StreamPolicy):
    """Keep the environment for a fixed time after every call."""

    def __init__(self, keep_alive_s: float, name: str | None = None):
        if keep_alive_s < 0:
            raise ValueError(f"keep_alive_s must be >= 0, got {keep_alive_s}")
        self.keep_alive_s = keep_alive_s
        self.name = name or f"keep-alive-{keep_alive_s:g}s"

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        return packed_runs.keep_alive(p, self.keep_alive_s, horizon_s, scored_from_s)


def ar1_log_forecast(samples) -> float:
    """Next value of a positive series: AR(1) on the logs (least squares), last value if < 3.

    Stands in for the ARIMA the hybrid policy uses on out-of-range idle times (no statsmodels in
    the runtime); with a short, noisy history both reduce to a shrunk mean of the recent values.
    """
    return float(window_loops.ar1_log_forecast(np.asarray(samples, dtype=float)))


class HybridHistogram(StreamPolicy):
    """Shahrad et al. (ATC 2020) with the published parameters (see the module docstring);
    ``head``, ``tail`` and ``range_s`` are what the baseline curves sweep."""

    name = "hybrid-histogram"

    def __init__(self, bin_s: float = 60.0, range_s: float = 4 * 3600.0, head: float = 0.05,
                 tail: float = 0.99, margin: float = 0.10, cv_threshold: float = 2.0,
                 arima_margin: float = 0.15, name: str | None = None):
        if not 0.0 <= head < tail <= 1.0:
            raise ValueError(f"head, tail: need 0 <= head < tail <= 1, got {head}, {tail}")
        if range_s < bin_s or bin_s <= 0:
            raise ValueError(f"range_s: need range_s >= bin_s > 0, got {range_s}, {bin_s}")
        self.bin_s, self.range_s, self.head, self.tail = bin_s, range_s, head, tail
        self.margin, self.cv_threshold, self.arima_margin = margin, cv_threshold, arima_margin
        self.bins = int(round(range_s / bin_s))
        self.name = name or self.name

    def _settings(self) -> tuple:
        return (float(self.bin_s), int(self.bins), float(self.head), float(self.tail),
                float(self.margin), float(self.cv_threshold), float(self.arima_margin))

    def windows(self, stream: Stream) -> np.ndarray:
        return window_loops.hybrid_windows(gaps(stream.times, stream.duration_s),
                                           *self._settings())

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        return packed_runs.hybrid(p, float(horizon_s), float(scored_from_s), *self._settings())


class QuantileWindow(StreamPolicy):
    """sgcflow's policy for unplanned streams when nothing can be tuned: exact idle-time
    quantiles, absolute margins and a cost-aware end.

    Why it beats 1-minute bins with 10 % margins: a strictly periodic function needs a window as
    wide as its jitter, not 10 % of its period (an hourly timer idles seconds, not 6 minutes),
    and there is no 4-hour horizon, so rare periodic calls are pre-warmed instead of forecast.
    The end of the window is cut where the calls it still catches cost more than
    ``exchange_s`` idle seconds each (ski rental on the empirical idle times): sparse, irregular
    streams are let go instead of kept warm for hours. The history is the last ``history`` idle
    times, so a function that changes rhythm adapts.
    """

    name = "quantile-window"

    def __init__(self, head: float = 0.02, tail: float = 0.99, history: int = 64,
                 min_margin_s: float = 2.0, relative_margin: float = 0.02,
                 spread_margin: float = 0.25, prewarm_min_s: float = 120.0,
                 exchange_s: float = 9000.0):
        self.head, self.tail, self.history = head, tail, history
        self.min_margin_s, self.relative_margin = min_margin_s, relative_margin
        self.spread_margin, self.prewarm_min_s = spread_margin, prewarm_min_s
        self.exchange_s = exchange_s

    def _settings(self) -> tuple:
        return (float(self.head), float(self.tail), int(self.history), float(self.min_margin_s),
                float(self.relative_margin), float(self.spread_margin),
                float(self.prewarm_min_s), float(self.exchange_s))

    def windows(self, stream: Stream) -> np.ndarray:
        return window_loops.quantile_windows(gaps(stream.times, stream.duration_s),
                                             *self._settings())

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        return packed_runs.quantile(p, float(horizon_s), float(scored_from_s),
                                    *self._settings())


class IdleForecast(StreamPolicy):
    """sgcflow's policy for background apps: per-app idle-time forecast priced in GB-s.

    The hybrid histogram's fixed 5th/99th percentiles and 1-minute bins ignore what a window
    costs; here the window after each call is chosen on the app's own last ``history`` idle
    times to maximise ``exchange_gb_s / memory`` x warm calls - idle seconds (ski rental per app,
    memory-aware), over several pre-warm points (head quantiles) and every end. A rare long idle
    time in a busy app is cheap to cover, a small app may idle longer for the same GB-s, and a
    sparse irregular app is let go. An app whose last calls keep a clock (from
    ``period_min_calls`` on) is pre-warmed for its next band, ``period_margin`` x period wide
    on each side, and for the band one period later (a skipped cycle); a history of two
    clusters (bursts, then an hourly call) is kept loaded for the near one and pre-warmed for
    the far one (two bands, ``forecast_loops``); a pre-warm is charged the chance of an idle
    time below it from an exponential lower tail (``tail_order`` smallest spacings).
    ``exchange_gb_s``, ``min_history`` and ``period_margin`` are tuned on warm-up minutes only
    (``coordinator.warmpool.tuning``).
    """

    name = "idle-forecast"

    def __init__(self, exchange_gb_s: float = 400.0, history: int = 1024,
                 heads: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.10),
                 min_margin_s: float = 2.0, relative_margin: float = 0.20,
                 prewarm_min_s: float = 60.0, min_keep_s: float = 300.0,
                 cap_s: float = 4 * 3600.0, stride: int = 4, min_history: int = 8,
                 period_window: int = 32, band_s: float = 120.0, surprise: float = 1.0,
                 period_min_calls: int = 3, period_margin: float = 0.05, tail_order: int = 2):
        if exchange_gb_s <= 0 or history < 4 or stride < 1:
            raise ValueError("exchange_gb_s must be > 0, history >= 4 and stride >= 1")
        if period_margin < 0 or tail_order < 0 or period_min_calls < 3:
            raise ValueError("period_margin and tail_order must be >= 0, "
                             "period_min_calls >= 3")
        self.exchange_gb_s, self.history, self.heads = exchange_gb_s, history, heads
        self.min_margin_s, self.relative_margin = min_margin_s, relative_margin
        self.prewarm_min_s, self.cap_s, self.stride = prewarm_min_s, cap_s, stride
        self.min_keep_s, self.min_history = min_keep_s, min_history
        self.period_window, self.band_s, self.surprise = period_window, band_s, surprise
        self.period_min_calls, self.period_margin = period_min_calls, period_margin
        self.tail_order = tail_order

    def _settings(self) -> tuple:
        return (float(self.exchange_gb_s), int(self.history),
                np.asarray(self.heads, dtype=float), float(self.min_margin_s),
                float(self.relative_margin), float(self.prewarm_min_s), float(self.min_keep_s),
                float(self.cap_s), int(self.stride), int(self.min_history),
                int(self.period_window), float(self.band_s), float(self.surprise),
                int(self.period_min_calls), float(self.period_margin), int(self.tail_order))

    def windows(self, stream: Stream) -> np.ndarray:
        """Per call: (a1, b1, a2, b2), the second band ``inf`` when there is none."""
        times = np.asarray(stream.times, dtype=float)
        return forecast_loops.forecast_windows(times, times + stream.duration_s,
                                               float(stream.memory_gb), *self._settings())

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        return packed_runs.forecast(p, float(horizon_s), float(scored_from_s),
                                    *self._settings())
