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
    assert len(payload["seeds"]) == 2
    assert (tmp_path / "warmpool.png").stat().st_size > 10_000
    assert "sgc bench warmpool" in (tmp_path / "warmpool.md").read_text()


def test_bench_names_a_bad_warm_up(tmp_path):
    result = CliRunner().invoke(warmpool, ["--out", str(tmp_path), "--warmup-minutes", "-1"])
    assert result.exit_code == 2 and "--warmup-minutes" in result.output
    assert "Traceback" not in result.output
