"""The demo's loss plot: loss against the job's wall-clock time, models named by kind, and a
legend entry for each drawn line only (no emulator: a report built by hand)."""

from __future__ import annotations

from coordinator.cli import demo
from coordinator.control.plan import JobPlan


class TwoModels(JobPlan):
    def __init__(self):  # only what _loss_at reads
        pass

    M = 2


def test_each_loss_is_timed_when_its_round_ended():
    rows = [{"dispatched_at": 100.0, "wait_s": 1.0, "update_s": 0.1, "losses": {1: 2.0}},
            {"dispatched_at": 102.5, "wait_s": 1.0, "update_s": 0.1, "losses": {2: 3.0, 3: 1.5}},
            {"dispatched_at": 104.0, "wait_s": 2.0, "update_s": 0.5, "losses": {4: 2.5}}]
    assert demo._loss_at(TwoModels(), rows) == [[(2.5, 2.0), (4.0, 1.5)],
                                                [(4.0, 3.0), (6.5, 2.5)]]


def test_models_are_named_by_kind():
    assert demo.model_name({"kind": "softmax"}) == "softmax"
    assert demo.model_name({"kind": "mlp", "hidden": [256, 256],
                            "activation": "tanh"}) == "mlp [256, 256] tanh"
    assert demo.model_name({"kind": "mlp", "hidden": 16}) == "mlp [16] relu"


def test_the_legend_has_one_entry_per_drawn_line(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = {}
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: saved.setdefault("fig", fig))
    monkeypatch.setattr(plt, "close", lambda fig: None)
    report = {"workers": 4, "models": [{"kind": "softmax"},
                                       {"kind": "mlp", "hidden": [8], "activation": "tanh"}],
              "loss_at": {"M-SGC": [[(1.0, 2.0), (2.0, 1.0)], []],
                          "GC": [[(1.5, 2.0)], [(1.5, 3.0), (3.0, 2.0)]]},
              "observed": {"M-SGC": [[1], []], "GC": [[], [2]]}}
    demo._plot(report, tmp_path / "demo.png")
    losses = saved["fig"].axes[0]
    labels = [text.get_text() for text in losses.get_legend().get_texts()]
    assert labels == ["M-SGC: softmax", "GC: softmax", "GC: mlp [8] tanh"]
    assert len(losses.get_lines()) == len(labels)
    assert "seconds" in losses.get_xlabel()
