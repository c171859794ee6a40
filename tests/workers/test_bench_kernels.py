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
