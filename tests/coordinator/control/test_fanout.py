"""The two-level worker fan-out: relay groups and the relay handler."""

from __future__ import annotations

import json

import pytest

from coordinator.contract.errors import EventError
from coordinator.control.rounds import fanout_mode, relay_groups
from functions import relay


@pytest.mark.parametrize("n", [1, 2, 16, 17, 255, 256])
def test_relay_groups_cover_every_worker_once_in_about_sqrt_n_groups(n):
    events = [{"worker": w} for w in range(n)]
    groups = relay_groups(events)
    assert [e for g in groups for e in g["relay"]] == events
    assert len(groups) <= int(n ** 0.5) + 2 and max(len(g["relay"]) for g in groups) <= \
        int(n ** 0.5) + 1


def test_fanout_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv("SGC_FANOUT", raising=False)
    assert (fanout_mode(256), fanout_mode(8)) == ("tree", "flat")  # auto, the default
    monkeypatch.setenv("SGC_FANOUT", "flat")
    assert fanout_mode(256) == "flat"
    monkeypatch.setenv("SGC_FANOUT", "tree")
    assert fanout_mode(4) == "tree"
    monkeypatch.setenv("SGC_FANOUT", "star")
    with pytest.raises(ValueError, match="SGC_FANOUT"):
        fanout_mode(4)


class FakeLambda:
    def __init__(self):
        self.calls = []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)


def test_relay_invokes_every_listed_event_asynchronously(monkeypatch):
    client = FakeLambda()
    monkeypatch.setattr(relay, "_client", lambda: client)
    monkeypatch.setenv("SGC_WORKER_FUNCTION", "sgcflow-worker")
    events = [{"run": "r", "round": 1, "worker": w, "tasks": []} for w in range(5)]
    assert relay.handle({"relay": events}) == {"relayed": 5}
    assert sorted(json.loads(c["Payload"])["worker"] for c in client.calls) == list(range(5))
    assert {(c["FunctionName"], c["InvocationType"]) for c in client.calls} == {
        ("sgcflow-worker", "Event")}


@pytest.mark.parametrize("event", [{"relay": []}, {"relay": "x"}, {"relay": [1]}])
def test_a_bad_relay_event_names_the_field(event, monkeypatch):
    monkeypatch.setattr(relay, "_client", FakeLambda)
    with pytest.raises(EventError, match="relay"):
        relay.handle(event)
