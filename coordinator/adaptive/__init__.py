"""sgcflow's default: a family of configurations on one partitioning, chosen online.

See ``family`` (what can be chosen), ``evaluate`` (replaying candidates on observed rounds) and
``online`` (when and how the choice is made).
"""

from .family import Q_GRID, Config, safe_start
from .online import Learned, OnlineChooser, OnlineRun, Tuning, resume

__all__ = ["Q_GRID", "Config", "Learned", "OnlineChooser", "OnlineRun", "Tuning", "resume",
           "safe_start"]
