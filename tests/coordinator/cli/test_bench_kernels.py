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
