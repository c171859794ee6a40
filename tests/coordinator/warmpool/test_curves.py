"""Every baseline as a curve, and whether a point lies below it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.warmpool import curves

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "azure2019_sample100"


def point(param, rate, idle):
    return {"param": param, "cold_start_rate": rate, "idle_gb_s": idle}


CURVE = [point("a", 0.10, 10.0), point("b", 0.05, 20.0), point("c", 0.06, 30.0),
         point("d", 0.01, 40.0)]


def test_the_envelope_keeps_each_point_that_beats_every_cheaper_one():
    assert [p["param"] for p in curves.envelope(CURVE)] == ["a", "b", "d"]


@pytest.mark.parametrize("rate, idle, below, dominated, at", [
    (0.02, 25.0, True, [], 0.05 - 0.04 * 5 / 20),  # under the line from b to d
    (0.045, 25.0, False, [], 0.04),  # above the line, though no single setting beats it
    (0.06, 25.0, False, ["b"], 0.04),  # b has fewer cold starts for less idle
    (0.20, 5.0, True, [], None),  # idles less than any setting: nothing to compare with
    (0.005, 99.0, True, [], 0.01),  # right of the curve: its last point
])
def test_below_means_undominated_and_under_the_envelope(rate, idle, below, dominated, at):
    verdict = curves.judge({"cold_start_rate": rate, "idle_gb_s": idle}, CURVE)
    assert verdict["below"] is below and verdict["dominated_by"] == dominated
    assert verdict["curve_rate_at_our_idle"] == (None if at is None else pytest.approx(at))


def test_the_settings_span_what_the_issue_asks():
    families = curves.baselines()
    assert [p for p, _ in families["keep-alive"]][::10] == ["1 min", "120 min"]
    assert len(families["hybrid-histogram"]) == 20 and families["faascache"][0][0] == "5 %"


def test_simulate_sweep_adds_curves_with_every_point_and_the_verdicts():
    from coordinator.cli.warmpool import warmpool

    result = CliRunner().invoke(warmpool, [
        "simulate", "--trace", str(SAMPLE), "--format", "azure2019", "--warmup-minutes",
        "120", "--jobs-per-region", "0", "--sweep", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["curves"]) == {"keep-alive", "hybrid-histogram", "faascache"}
    for curve in data["curves"].values():
        assert set(curve) == {"points", "below", "dominated_by", "curve_rate_at_our_idle"}
        assert all({"param", "cold_start_rate", "idle_gb_s", "p75_app_cold_start_rate",
                    "wasted_gb_s"} <= set(p) for p in curve["points"])
    for name in ("keep-alive-60s", "hybrid-histogram", "faascache", "sgcflow"):
        assert {"p75_app_cold_start_rate", "wasted_gb_s"} <= set(data[name]["trace"])
