"""`sgc bench warmpool` end to end on small settings: files, JSON shape, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from coordinator.cli.bench_warmpool import warmpool


@pytest.mark.slow
def test_bench_writes_table_json_and_plot(tmp_path):
    result = CliRunner().invoke(warmpool, ["--out", str(tmp_path), "--functions", "20",
                                           "--days", "0.25", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "warmpool.json").read_text())
    traces = {row["trace"] for row in payload["rows"]}
    assert traces == {"azure sample (poisson)", "azure sample (even)", "synthetic",
                      "20 resampled"}
    assert all(row["worker_cold_starts_after_lead"] == 0 for row in payload["rows"]
               if row["policy"] == "sgcflow")
    assert payload["speed"]["functions"] == 20 and payload["speed"]["seconds"] > 0
    assert payload["speed"]["under_limit"] == (payload["speed"]["seconds"] < 30)
    # per run: 2 arrival placements x 1 seed, the same at warm-ups 180 and 300, the synthetic
    # trace and the resample, each with both ratios, a verdict and the minutes it was tuned on
    runs = payload["seeds"]
    assert len(runs) == 8
    assert {run["run"] for run in runs} >= {"synthetic", "20 resampled",
                                            "azure sample (even), warm-up 300 min"}
    for run in runs:
        assert run["verdict"] in ("pass", "FAIL", "fewer cold at <= idle, above the aim")
        assert run["meets_target"] == (run["cold_ratio"] <= 0.8 and run["idle_ratio"] <= 1
                                       and run["late"] == 0)
        assert "of the warm-up" in run["tuned_on"]
    assert payload["all_pass"] == (all(r["meets_target"] for r in runs)
                                   and payload["speed"]["under_limit"])
    assert (tmp_path / "warmpool.png").stat().st_size > 10_000
    markdown = (tmp_path / "warmpool.md").read_text()
    assert "sgc bench warmpool" in markdown and "cold / hybrid" in markdown
    assert "idle / hybrid" in markdown and "runs meet the target" in markdown


def test_bench_names_a_bad_warm_up(tmp_path):
    result = CliRunner().invoke(warmpool, ["--out", str(tmp_path), "--warmup-minutes", "-1"])
    assert result.exit_code == 2 and "--warmup-minutes" in result.output
    assert "Traceback" not in result.output
