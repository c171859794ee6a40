"""`sgc bench warmpool` end to end on small settings: files, JSON shape, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from coordinator.cli.bench_warmpool import warmpool


@pytest.mark.slow
def test_bench_writes_table_json_and_plot(tmp_path):
    result = CliRunner().invoke(warmpool, ["--out", str(tmp_path), "--functions", "20",
                                           "--days", "0.5", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "warmpool.json").read_text())
    assert {row["trace"] for row in payload["rows"]} == {"azure sample (poisson)",
                                                          "azure sample (even)"}
    assert all(row["worker_cold_starts_after_lead"] == 0 for row in payload["rows"]
               if row["policy"] == "sgcflow")
    # 2 placements x 1 seed at the warm-up, and both again at warm-ups 180 and 300
    runs = payload["runs"]
    assert len(runs) == 6 and "azure sample (even), warm-up 300 min" in {r["run"] for r in runs}
    for run in runs:
        assert set(run["targets"]) == {"cold", "idle", "p75", "curves", "late"}
        assert run["targets"]["cold"] == (run["cold_ratio"] <= 0.5)
        assert (run["verdict"] == "pass") == all(run["targets"].values())
        assert "of the warm-up" in run["tuned_on"]
    assert {r["notice_share"] for r in payload["notice"]} == {0.0, 0.7, 1.0}
    zero = [r for r in payload["notice"] if r["notice_share"] == 0 and r["policy"] == "sgcflow"]
    assert zero[0]["with_notice"] == 0 and zero[0]["worst_without"] > 0
    speed = payload["speed"]
    assert speed["functions"] == 20 and speed["seconds"] > 0 and speed["cpu_s"] > 0
    assert speed["under_limit"] == (speed["seconds"] <= 30)
    assert (tmp_path / "warmpool.png").stat().st_size > 10_000
    markdown = (tmp_path / "warmpool.md").read_text()
    assert "sgc bench warmpool" in markdown and "below the curves of" in markdown
    assert "Targets met, of 6 runs" in markdown and "jobs with notice" in markdown


def test_bench_names_a_bad_warm_up(tmp_path):
    result = CliRunner().invoke(warmpool, ["--out", str(tmp_path), "--warmup-minutes", "-1"])
    assert result.exit_code == 2 and "--warmup-minutes" in result.output
    assert "Traceback" not in result.output
