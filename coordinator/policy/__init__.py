"""Wait policies: when a round may end and who its stragglers are, for every clock.

    from coordinator.policy import make_policy, RoundView
    policy = make_policy("decodable", min_fraction=0.75, model=False, cap=8.0)
    decision = policy.decide(view, now_s)

``make_policy`` names: ``paper``, ``kofn``, ``decodable`` (see ``rules``).
"""

from __future__ import annotations

from .base import Decision, RoundView, WaitPolicy
from .clock import end_of_round
from .rules import EarliestDecodable, KofN, PaperRule

POLICIES = {"paper": PaperRule, "kofn": KofN, "decodable": EarliestDecodable}


def make_policy(name: str, **params) -> WaitPolicy:
    """Build a policy by name; errors name the policy or the parameter."""
    if name not in POLICIES:
        raise ValueError(f"policy must be one of {sorted(POLICIES)}, got {name!r}")
    try:
        return POLICIES[name](**params)
    except TypeError as error:
        raise ValueError(f"policy {name!r}: {error}") from None


def policy_from_wait(wait: dict) -> WaitPolicy:
    """The policy a job spec's ``wait`` mapping names.

    ``{policy: NAME, ...params}``; without ``policy``, ``{mu | deadline_s, hard_limit_s}`` is
    the study's rule (``paper``).
    """
    params = dict(wait)
    name = params.pop("policy", "paper")
    return make_policy(name, **params)


__all__ = ["POLICIES", "Decision", "RoundView", "WaitPolicy", "end_of_round", "make_policy",
           "policy_from_wait"]
