"""Lambda packaging: trimming rules on a small tree, and (slow) the real bundle under 250 MB."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
import zipfile

import pytest
from timeouts import scaled

from infra import packaging
from infra.import_closure import closure, imported_names


def test_layer_key_is_per_architecture_and_stable():
    assert packaging.layer_key("x86_64") == packaging.layer_key("x86_64")
    assert packaging.layer_key("x86_64") != packaging.layer_key("arm64")
    with pytest.raises(ValueError, match=r"architecture must be one of \['arm64', 'x86_64'\]"):
        packaging.layer_key("sparc")


def test_trim_removes_tests_caches_headers_and_unused_pyarrow_parts(tmp_path):
    keep = ["numpy/core.py", "pyarrow/libarrow.so.2600", "pyarrow/libarrow_python.so.2600",
            "numba/misc/helper.py"]
    drop = ["numpy/tests/test_x.py", "numba/__pycache__/a.cpython-312.pyc", "bin/f2py",
            "pyarrow/include/arrow/api.h", "pyarrow/libarrow_flight.so.2600",
            "pyarrow/libarrow_python.so", "pyarrow/libarrow_python.so.2600.1.0",
            "pyarrow/_s3fs.cpython-312-x86_64-linux-gnu.so", "pyarrow/lib.pxd"]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 10)
    packaging.trim(tmp_path)
    remaining = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert remaining == sorted(keep)


def test_zip_package_replaces_the_folder_by_a_zip_on_sys_path(tmp_path):
    (tmp_path / "llvmlite" / "binding").mkdir(parents=True)
    (tmp_path / "llvmlite" / "__init__.py").write_text("x = 1\n")
    (tmp_path / "llvmlite" / "binding" / "libllvmlite.so").write_bytes(b"\0" * 1000)
    archive = packaging.zip_package(tmp_path, "llvmlite")
    assert not (tmp_path / "llvmlite").exists()
    assert sorted(zipfile.ZipFile(archive).namelist()) == [
        "llvmlite/__init__.py", "llvmlite/binding/libllvmlite.so"]
    pth = tmp_path / "lib/python3.12/site-packages/sgcflow-llvmlite.pth"
    assert pth.read_text() == "/opt/python/llvmlite.zip\n"
    assert packaging.python_path() == "/var/runtime:/opt/python/llvmlite.zip"


def test_source_asset_holds_only_the_two_packages(tmp_path):
    folder = packaging.source_asset()
    assert sorted(p.name for p in folder.iterdir()) == ["coordinator", "functions"]
    assert not list(folder.rglob("__pycache__"))
    assert (folder / "functions" / "worker.py").is_file()
    # Without the cache (placeholder layer): other content, other folder, hence other hash.
    root = tmp_path / "repo"
    (root / "coordinator").mkdir(parents=True)
    (root / "functions" / "numba_cache").mkdir(parents=True)
    (root / "functions" / "worker.py").write_text("x = 1\n")
    (root / "functions" / "numba_cache" / "k.nbi").write_bytes(b"index")
    full = packaging.source_asset(root, tmp_path / "build")
    bare = packaging.source_asset(root, tmp_path / "build", with_cache=False)
    assert (full / "functions" / "numba_cache" / "k.nbi").is_file()
    assert full != bare and not (bare / "functions" / "numba_cache").exists()


def test_a_folder_in_use_survives_the_other_kinds_rebuild_and_stale_ones_go(tmp_path):
    """A suite builds the plain folder at its start and the cached one twenty minutes later:
    the late build must not prune the early folder (a CI run lost it mid-import that way).
    A folder of the same kind, left by an earlier edit and unused for ten minutes, goes."""
    root, build = tmp_path / "repo", tmp_path / "build"
    (root / "functions" / "numba_cache").mkdir(parents=True)
    (root / "coordinator").mkdir()
    (root / "functions" / "worker.py").write_text("x = 1\n")
    (root / "functions" / "numba_cache" / "k.nbi").write_bytes(b"index")
    bare = packaging.source_asset(root, build, with_cache=False)
    stale = build / "source-cache-0123456789abcdef"
    named_before_kinds = build / "source-fedcba9876543210"
    an_hour_ago = time.time() - 3600
    for folder in (stale, named_before_kinds):
        folder.mkdir()
    for folder in (bare, stale, named_before_kinds):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    full = packaging.source_asset(root, build, with_cache=True)
    assert bare.is_dir() and full.is_dir()
    assert not stale.exists() and not named_before_kinds.exists()
    assert packaging.source_asset(root, build, with_cache=False) == bare
    assert time.time() - bare.stat().st_mtime < 600  # reuse counts as use


# Never run inside a Lambda: the CLI, the emulator, the IAM audit, the demo, the benchmarks, the
# warm-pool simulators, the live replay. The function asset must not carry them.
NOT_SHIPPED = ("coordinator/cli/__init__.py", "coordinator/emulator/__init__.py",
               "coordinator/audit/__init__.py", "coordinator/backends/__init__.py",
               "coordinator/cli/demo.py", "coordinator/replay/livereplay.py",
               "coordinator/warmpool/simulator.py", "coordinator/warmpool/azure2019.py")


def test_source_asset_ships_the_handlers_and_only_the_coordinator_they_import():
    folder = packaging.source_asset(with_cache=False)
    shipped = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"functions/worker.py", "functions/coordinator_steps.py", "functions/relay.py",
            "functions/warmpool_handler.py", "coordinator/contract/keys.py",
            "coordinator/control/rounds.py", "coordinator/warmpool/driver.py"} <= shipped
    assert not shipped & set(NOT_SHIPPED)
    source = {p.as_posix() for p in packaging.shipped_files(with_cache=False)}
    assert shipped == source


def test_the_worker_imports_no_coordinator_module_but_the_contract():
    files = [p.relative_to(packaging.ROOT).as_posix()
             for p in closure(packaging.ROOT, ("functions.worker",))]
    assert "functions/worker.py" in files and "coordinator/contract/models.py" in files
    assert [f for f in files if f.startswith("coordinator/")
            and not f.startswith("coordinator/contract/")] == ["coordinator/__init__.py"]


def test_imports_are_read_from_every_statement_relative_and_lazy_ones_too(tmp_path):
    module = tmp_path / "pkg" / "sub" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text("import os\nfrom . import a\nfrom ..b import c\n"
                      "def f():\n    from pkg.d import e\n")
    assert imported_names(tmp_path, module) == {"os", "pkg.sub", "pkg.sub.a", "pkg.b", "pkg.b.c",
                                                "pkg.d", "pkg.d.e"}


def test_handlers_import_from_the_asset_alone():
    """In a Python that sees the asset and the dependencies but not the checkout (``-S``: no
    editable-install finder; ``-B``: no byte code left in the shared asset), the handlers and every
    shipped coordinator module import, and the CLI does not. (The worker's kernels are left out:
    importing them compiles.)"""
    folder = packaging.source_asset(with_cache=False)
    modules = sorted(".".join(p.relative_to(folder).with_suffix("").parts).removesuffix(".__init__")
                     for p in folder.rglob("*.py") if p.parts[len(folder.parts)] == "coordinator")
    modules += ["functions.coordinator_steps", "functions.relay", "functions.warmpool_handler"]
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              f"assert importlib.import_module('coordinator').__file__.startswith('{folder}')\n"
              "try:\n    import coordinator.cli\nexcept ModuleNotFoundError:\n    sys.exit(0)\n"
              "sys.exit('coordinator.cli imported')\n")
    path = ":".join([str(folder), *site.getsitepackages()])
    done = subprocess.run([sys.executable, "-S", "-B", "-c", script], cwd=folder,
                          capture_output=True, text=True,
                          env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"}, timeout=scaled(120))
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.xdist_group("numba-cache")  # builds the layer the cache builds run on
def test_real_bundle_fits_lambda_unzipped_limit():
    """Downloads the cp312 manylinux wheels once into build/lambda/ (offline afterwards)."""
    report = packaging.bundle_report("x86_64")
    assert report.fits, f"{report.total_bytes / 2**20:.1f} MiB >= 250 MiB"
    assert report.total_bytes < packaging.LAMBDA_UNZIPPED_LIMIT
    site = packaging.dependency_layer("x86_64") / "python"
    names = zipfile.ZipFile(site / "llvmlite.zip").namelist()
    assert "llvmlite/binding/libllvmlite.so" in names and "llvmlite/__init__.py" in names
    for needed in ("numpy/__init__.py", "numba/__init__.py", "pyarrow/parquet/__init__.py",
                   "pyarrow/libparquet.so.2600", "aws_lambda_powertools/__init__.py"):
        assert (site / needed).is_file(), needed
    assert not list(site.rglob("tests")) and not list(site.rglob("__pycache__"))


def _tree_digest(folder) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _clone(destination):
    """What a second clone at another path holds of what the build reads: ``functions/`` and
    ``coordinator/`` (without byte code or the Numba cache)."""
    import shutil

    skip = shutil.ignore_patterns("__pycache__", "*.pyc", packaging.NUMBA_CACHE_FOLDER)
    for folder in ("functions", "coordinator"):
        shutil.copytree(packaging.ROOT / folder, destination / folder, ignore=skip)
    return destination


@pytest.fixture(scope="module")
def shipped_cache(tmp_path_factory):
    """The shipped Numba cache built in this checkout as `make deploy` does, and the source
    asset a synthesis makes of it (the cache inside)."""
    from infra_helpers import synthesize

    cache = packaging.build_numba_cache("x86_64")
    if cache is None:
        pytest.skip("needs Python 3.12 on an x86_64 host")
    synthesize(tmp_path_factory.mktemp("cdk") / "cdk.out", regions="us-east-1", bundle="auto")
    assert (packaging.source_asset() / "functions" / "numba_cache").is_dir()
    return cache


@pytest.mark.slow
@pytest.mark.xdist_group("numba-cache")
def test_two_clones_at_different_paths_give_byte_identical_assets(tmp_path):
    """Every cache file repeats byte for byte whatever the checkout's path (Numba writes source
    paths into its cache: the build sees sources and layer at fixed paths), so the source asset
    (and its CDK hash) does: a `make deploy` from another clone uploads nothing and publishes no
    new worker version. Two clones, each with its own copy of the layer, build the sample
    kernels (a serial and a parallel one: ``kernel_cache.compile_sample``; the whole set takes
    minutes per build, and the shipped-cache test below loads it)."""
    import shutil

    site = packaging.dependency_layer("x86_64") / "python"
    builds = []
    for place in ("checkout", "colleague/deep/er/sgcflow-checkout"):
        root = _clone(tmp_path / place)
        layer = root / "build" / "layer" / "python"
        shutil.copytree(site, layer, symlinks=True)
        cache = packaging.build_numba_cache("x86_64", root=root, layer_site=layer, sample=True)
        if cache is None:
            pytest.skip("needs Python 3.12 on an x86_64 host")
        asset = packaging.source_asset(root, tmp_path / place / "assets")
        builds.append((_tree_digest(cache), _tree_digest(asset), root))
    (first, first_asset, one), (second, second_asset, other) = builds
    # the parallel kernel's files are there: Numba names its gufuncs by address
    assert any(name.startswith("kernels.logreg_parallel-") for name in first)
    assert first == second, sorted(name for name in first if first[name] != second.get(name))
    assert first_asset == second_asset  # what CDK hashes into the code asset's key
    paths = [str(path).encode() for path in (packaging.ROOT, one, other, site.resolve())]
    for root in (one, other):
        for cached in (root / "functions" / "numba_cache").iterdir():
            body = cached.read_bytes()
            assert not any(path in body for path in paths), cached.name


@pytest.mark.slow
@pytest.mark.xdist_group("numba-cache")
def test_shipped_numba_cache_loads_in_lambdas_python_without_compiling(shipped_cache, tmp_path):
    """The cache `make deploy` ships, unpacked as Lambda unpacks the asset zip (every file
    dated 1980-01-01, as CDK writes it), in a fresh Python 3.12 on the layer (the Lambda CPU
    target, empty /tmp cache): Numba finds every kernel and compiles nothing, and the loaded
    kernels of three models (softmax, a deep MLP, a fused CNN) give the float64 reference's
    gradients."""
    import os
    import shutil
    import subprocess

    import numpy as np

    from coordinator.contract import gradients
    from coordinator.contract.models import ModelSpec

    rng = np.random.default_rng(0)
    cases = {}  # models on each Numba path, their data written for the Lambda Python to read
    for spec in (ModelSpec("softmax", 20, 4), ModelSpec("mlp", 20, 4, [8, 8], "tanh"),
                 ModelSpec("cnn", 36, 3, [], "relu", [1, 6, 6], [[4, 3]], 2)):
        X = rng.standard_normal((50, spec.n_features)).astype(np.float32)
        y = rng.integers(0, spec.n_classes, 50).astype(np.int32)
        cases[spec.kind] = (spec, X, y, spec.init(1))
        (tmp_path / f"{spec.kind}.json").write_text(json.dumps(spec.to_dict()))
        for part, value in zip("Xyp", cases[spec.kind][1:], strict=True):
            np.save(tmp_path / f"{spec.kind}.{part}.npy", value)
    python = packaging.lambda_python()
    task = tmp_path / "var-task"
    shutil.copytree(packaging.source_asset(), task)
    for path in task.rglob("*"):
        os.utime(path, (packaging.ZIP_EPOCH, packaging.ZIP_EPOCH))
    site = packaging.dependency_layer("x86_64") / "python"
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "sgcflow-worker",
           "NUMBA_CACHE_DIR": str(tmp_path / "tmp-cache"),
           "PYTHONPATH": os.pathsep.join([str(site), str(site / "llvmlite.zip"), str(task)])}
    env.pop("SGC_NUMBA_SHIPPED_CACHE", None)
    script = ("import json, functions.kernels as k, "
              "functions.kernels_mlp as m1, functions.kernels_deep as d, "
              "functions.kernels_blas as b, functions.kernel_layers as l, "
              "functions.kernel_conv as c, functions.kernels_cnn_fused as cf; k.warm_up(); "
              "from numba.core.registry import CPUDispatcher; "
              "print(json.dumps({f'{m.__name__}.{n}': [len(f.stats.cache_hits), "
              "len(f.stats.cache_misses)] for m in (k, m1, d, b, l, c, cf) "
              "for n, f in vars(m).items() "
              "if isinstance(f, CPUDispatcher) and f.__module__ == m.__name__ "
              "and (f.stats.cache_hits or f.stats.cache_misses)}))\n"
              "import numpy as np; from coordinator.contract.models import ModelSpec\n"
              f"for case in {sorted(cases)!r}:\n"
              f"    X, y, p = (np.load(f'{tmp_path}/{{case}}.{{part}}.npy') for part in 'Xyp')\n"
              f"    spec = json.loads(open(f'{tmp_path}/{{case}}.json').read())\n"
              "    spec = ModelSpec.from_dict(spec)\n"
              f"    np.save(f'{tmp_path}/{{case}}.got.npy', "
              "k.loss_grad(spec, X, y, p, parallel=False))\n")
    done = subprocess.run([python, "-c", script], env=env, capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    for case, (spec, X, y, params) in cases.items():  # what the Lambda build computed
        want = np.concatenate(gradients.loss_grad(spec, X, y, params), axis=None)
        got = np.load(tmp_path / f"{case}.got.npy")
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), case
    # the linear/one-layer dispatchers, the deep MLP's, the BLAS paths' fused helpers, and the
    # CNN's conv blocks and fused call
    assert {"functions.kernels.logreg_serial", "functions.kernels.softmax_parallel",
            "functions.kernels_mlp.mlp_parallel", "functions.kernels_deep.deep_parallel",
            "functions.kernels_deep.deep_serial", "functions.kernel_layers.softmax_rows",
            "functions.kernel_layers.bias_activate", "functions.kernel_layers.accumulate",
            "functions.kernel_layers.gate", "functions.kernel_conv.im2col",
            "functions.kernel_conv.col2im", "functions.kernel_conv.pool_forward",
            "functions.kernel_conv.pool_backward",
            "functions.kernels_cnn_fused.cnn_fused_kernel"} <= set(stats), stats
    assert all(misses == 0 and hits >= 1 for hits, misses in stats.values()), stats
