"""`sgc bench targets`: what it measures (every Numba path a worker dispatches) and how it reports;
the measurement itself (three builds, about 5 minutes) runs in `make bench`."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from coordinator.cli import bench_targets


def test_the_models_run_every_numba_path_and_one_blas_path():
    paths = [bench_targets._path(spec, rows) for _, spec, rows in bench_targets.MODELS]
    assert {"logreg", "softmax", "mlp1", "deep", "fused"} <= set(paths) and "blas" in paths


def test_the_table_has_one_row_per_model_with_each_target():
    row = {"model": "softmax 784x10", "rows": 4096, "path": "softmax", "generic_ms": 9.99,
           "x86-64-v3_ms": 6.49, "host_ms": 6.77, "v3_speedup_over_generic": 1.539,
           "v3_time_over_host": 0.959}
    path = {"bench": "cnn_paths", "model": "8x8, 64/128 ch. 3x3", "rows": 4, "macs": 4.9e6,
            "fused_ms": 2.91, "blas_ms": 2.06, "fused_over_blas": 1.413, "path": "blas",
            "rule_is_faster": True}
    table = bench_targets.markdown([{"bench": "targets", **row}, path])
    assert "| softmax 784x10 | 4096 | softmax | 9.99 | 6.49 | 6.77 | 1.54 | 0.96 |" in table
    assert "| 8x8, 64/128 ch. 3x3 | 4 | 4.90e+06 | 2.91 | 2.06 | 1.41 | blas | yes |" in table
    assert table.rstrip().endswith("`sgc bench targets`")


def test_the_cnn_models_are_on_both_sides_of_the_rule():
    from coordinator.contract.kernel_paths import cnn_path
    from coordinator.contract.models import ModelSpec

    picks = {cnn_path(ModelSpec("cnn", int(np.prod(image)), 10, hidden, "relu", image, conv, 2),
                      rows)
             for _, image, conv, hidden in bench_targets.CNN_MODELS
             for rows in bench_targets.PATH_ROWS}
    assert picks == {"fused", "blas"}


def test_another_architecture_is_told_why_not(monkeypatch, tmp_path):
    monkeypatch.setattr("functions.numba_setup.shipped_cpu", lambda machine=None: "generic")
    done = CliRunner().invoke(bench_targets.targets, ["--out", str(tmp_path)])
    assert done.exit_code == 1 and "x86-64 host" in done.output
    assert not list(tmp_path.iterdir())
