"""`sgc bench kernels` building blocks: the per-model rows carry the fields the README promises."""

from __future__ import annotations

from coordinator.cli import bench_kernels


def test_kernel_rows_have_the_promised_fields():
    rows = bench_kernels.measure_kernels(rows=[7, 64], quick=True)
    assert [(r["model"], r["rows"]) for r in rows] == [
        (kind, n) for kind, *_ in bench_kernels.MODELS for n in (7, 64)]
    for r in rows:
        assert {"model", "numba_s", "numpy_s", "max_rel_err", "ratio", "numba_GBps",
                "bandwidth_GBps"} <= set(r)
        assert r["max_rel_err"] <= 1e-5 and r["numba_s"] > 0 and r["numpy_s"] > 0
        assert r["ratio"] == r["numpy_s"] / r["numba_s"]
    table = bench_kernels.markdown(rows + [
        {"bench": "cold_init", "cache": "present", "init_s": 0.5, "process_s": 0.7}])
    assert "| logreg | 7 |" in table and "| cache present | 0.50 | 0.70 |" in table


def test_deep_rows_report_gflops_against_the_measured_peak():
    from coordinator.cli import bench_deep

    rows = bench_deep.measure_deep(quick=True, cpu="host")
    assert [(r["hidden"], r["rows"]) for r in rows] == [
        (list(hidden), n) for _, hidden, counts in bench_deep.DEEP[:3] for n in counts]
    for r in rows:
        assert {"gflops", "peak_fraction", "peak_gflops", "sgc_s", "numpy_s", "numba_s",
                "blas_s", "speedup_vs_numpy", "path", "estimate_memory_mb"} <= set(r)
        flops = bench_deep.flops_per_row((r["n_features"], *r["hidden"], r["n_classes"]))
        assert r["gflops"] == flops * r["rows"] / r["sgc_s"] / 1e9
        assert r["peak_fraction"] == r["gflops"] / r["peak_gflops"]
        assert r["max_rel_err"] <= 1e-5
    assert "| host | 64 | [256, 256] |" in bench_deep.markdown(rows)


def test_flops_per_row_counts_each_weight_six_times_but_the_first_layer_four():
    from coordinator.cli import bench_deep

    assert bench_deep.flops_per_row((3, 5, 2)) == 6 * (3 * 5 + 5 * 2) - 2 * 3 * 5


def test_fma_peak_is_measured():
    from coordinator.cli import fma_peak

    peak = fma_peak.measure(0.05)
    assert peak["peak_gflops"] == max(v for k, v in peak.items() if k != "peak_gflops") > 0


def test_the_lambda_builds_peak_is_that_of_its_own_instructions(monkeypatch):
    """The Lambda build targets x86-64-v3 (AVX2): on a host with AVX-512 its kernels cannot
    reach the 16-lane peak, so its rows are read against the 8-lane one."""
    from coordinator.cli import fma_peak

    monkeypatch.setenv("NUMBA_CPU_NAME", "x86-64-v3")
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "")
    assert fma_peak.target_cpu() == ("x86-64-v3", "")
    peak = fma_peak.measure(0.05)
    assert set(peak) == {"fma256_gflops", "peak_gflops"}
    assert peak["peak_gflops"] == peak["fma256_gflops"] > 0


def test_cnn_rows_report_gflops_and_the_numpy_baseline():
    from coordinator.cli import bench_cnn
    from coordinator.spec.model_budget import cnn_flops_per_row

    rows = bench_cnn.measure_cnn(quick=True, cpu="host", names=["digits"])
    assert [(r["name"], r["rows"]) for r in rows] == [("digits", 64)]
    for r in rows:
        assert {"gflops", "peak_fraction", "sgc_s", "numpy_s", "fused_s", "blas_s",
                "products_s", "speedup_vs_numpy", "path", "conv_share"} <= set(r)
        flops = cnn_flops_per_row(bench_cnn.spec_of(r["name"])) * r["rows"]
        assert r["gflops"] == flops / r["sgc_s"] / 1e9
        assert r["max_rel_err"] <= 1e-5 and 0.8 <= r["conv_share"] <= 1
    table = bench_cnn.markdown(rows + [{"bench": "cnn_worker_memory", "name": "lenet",
                                        "n_params": 59822, "rows": 1024, "runtime_mb": 261.0,
                                        "task_mb": 46.0, "estimate_mb": 385.0,
                                        "worker_memory_mb": 1769}])
    assert "| host | digits | 1x8x8 |" in table
    assert "307 MB measured (estimate 385 MB), default worker 1769 MB" in table
