"""Lambda packaging without Docker: cross-platform wheels into a cached layer folder.

The worker needs numpy, numba, llvmlite and pyarrow built for Amazon Linux (Lambda Python 3.12),
and threadpoolctl (pure Python) to find numpy's OpenBLAS and pin it to one thread.
pip can fetch those as binary wheels for another platform (`--platform … --only-binary=:all:
--python-version 3.12`), so no container engine is needed. Wheels are downloaded once into
``build/lambda/wheels-<arch>/`` and installed from there with ``--no-index``: a repeat build is
offline. The installed tree is trimmed (tests, caches, headers, unused pyarrow parts), llvmlite
is shipped as a zip (see ``ZIPPED_PACKAGES``), and the result must stay under Lambda's 250 MB
unzipped limit together with the function code (checked by ``bundle_report``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from functions.numba_setup import shipped_cpu
from infra.import_closure import HANDLER_PACKAGE, closure

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
CONSTRAINTS = ROOT / "constraints.txt"

LAMBDA_PYTHON = "3.12"
# What the functions import beyond the Lambda runtime (boto3 ships with the runtime).
DEPENDENCIES = ("numpy", "numba", "llvmlite", "pyarrow", "aws-lambda-powertools", "threadpoolctl")
# Lambda's Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34): manylinux2014 and 2_28 both run.
PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
}
# Lambda: function code plus all layers, unzipped, at most 250 MB (262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024

# Never needed at run time inside Lambda; removing them keeps the layer well under the limit.
TRIM_DIR_NAMES = frozenset({"__pycache__", "tests", "testing", "benchmarks", "include"})
TRIM_TOP_LEVEL = frozenset({"bin"})
TRIM_SUFFIXES = (".pyc", ".pyx", ".pxd", ".pxi", ".h", ".hpp")
# Optional pyarrow parts nothing of ours imports (Flight RPC, S3/cloud filesystems, C++ tests)
# and the unversioned / fully versioned copies of libraries that are loaded by their SONAME
# (wheels cannot hold symlinks, so pip writes three full copies of each).
TRIM_GLOBS = (
    "pyarrow/libarrow_flight.so*", "pyarrow/libarrow_python_flight.so*", "pyarrow/_flight.*.so",
    "pyarrow/libarrow_s3.so*", "pyarrow/_s3fs.*.so", "pyarrow/_gcsfs.*.so", "pyarrow/_azurefs.*.so",
    "pyarrow/_hdfs.*.so", "pyarrow/_pyarrow_cpp_tests.*.so",
    "pyarrow/libarrow_python.so", "pyarrow/libarrow_python.so.*.*.*",
    "pyarrow/libarrow_python_parquet_encryption.so",
    "pyarrow/libarrow_python_parquet_encryption.so.*.*.*",
)
# Bump when the trimming rules change, so cached layers are rebuilt.
TRIM_VERSION = "4"
# libllvmlite.so alone is ~171 MB, which puts the trimmed layer at ~337 MB. llvmlite is pure
# Python around that one ctypes-loaded library, found through importlib.resources, so it works
# from a zip on sys.path: the library is unpacked to /tmp when numba first loads it (~1 s per
# cold start) and the zip counts ~55 MB instead of ~171 MB. A .pth file in the layer's site
# directory puts the zip on sys.path; so does the functions' PYTHONPATH (see lambda_base).
ZIPPED_PACKAGES = ("llvmlite",)
LAYER_MOUNT = "/opt/python"
SITE_DIR = f"lib/python{LAMBDA_PYTHON}/site-packages"


class PackagingError(RuntimeError):
    """pip could not produce the Lambda dependency layer."""


@dataclass(frozen=True)
class BundleReport:
    """Unzipped sizes in bytes of what one function deploys (layer + code)."""

    layer_bytes: int
    source_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.layer_bytes + self.source_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes < LAMBDA_UNZIPPED_LIMIT


def _check_architecture(architecture: str) -> None:
    if architecture not in PLATFORMS:
        raise ValueError(f"architecture must be one of {sorted(PLATFORMS)}, got {architecture!r}")


def layer_key(architecture: str) -> str:
    """Cache key of a layer: pinned versions, target platform, Python and trim rules."""
    _check_architecture(architecture)
    digest = hashlib.sha256()
    for part in (CONSTRAINTS.read_text(), " ".join(DEPENDENCIES), architecture, LAMBDA_PYTHON,
                 TRIM_VERSION):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _target_args(architecture: str) -> list[str]:
    platform_args = [arg for tag in PLATFORMS[architecture] for arg in ("--platform", tag)]
    return [*platform_args, "--only-binary=:all:", "--python-version", LAMBDA_PYTHON,
            "--implementation", "cp", "-c", str(CONSTRAINTS), *DEPENDENCIES]


def _run_pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def _install(architecture: str, wheels: Path, target: Path) -> None:
    """Install from the local wheel cache; download into it first when something is missing."""
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
               "--find-links", str(wheels), "--target", str(target), *_target_args(architecture)]
    if wheels.is_dir() and _run_pip(install).returncode == 0:
        return
    wheels.mkdir(parents=True, exist_ok=True)
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheels),
                *_target_args(architecture)]
    fetched = _run_pip(download)
    if fetched.returncode != 0:
        raise PackagingError(f"pip download for {architecture} failed:\n{fetched.stderr[-2000:]}")
    shutil.rmtree(target, ignore_errors=True)
    installed = _run_pip(install)
    if installed.returncode != 0:
        raise PackagingError(f"pip install for {architecture} failed:\n{installed.stderr[-2000:]}")


def trim(site: Path) -> None:
    """Delete tests, caches, headers, scripts and unused pyarrow parts from an installed tree.

    Shared objects are deliberately not stripped: the wheels' libraries were rewritten by
    auditwheel (patchelf), and ``strip`` on them yields files the loader rejects ("ELF load
    command address/offset not page-aligned", seen on numpy's OpenBLAS).
    """
    for name in TRIM_TOP_LEVEL:
        shutil.rmtree(site / name, ignore_errors=True)
    for pattern in TRIM_GLOBS:
        for path in site.glob(pattern):
            path.unlink(missing_ok=True)
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in TRIM_DIR_NAMES:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.endswith(TRIM_SUFFIXES):
            path.unlink(missing_ok=True)


def zipped_path(package: str) -> str:
    """Where a zipped package sits inside a running Lambda (layers are mounted on /opt)."""
    return f"{LAYER_MOUNT}/{package}.zip"


def zip_package(site: Path, package: str) -> Path:
    """Replace ``site/package/`` by ``site/package.zip`` plus a .pth that puts it on sys.path."""
    archive = site / f"{package}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as bundle:
        for path in sorted((site / package).rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(site).as_posix())
    shutil.rmtree(site / package)
    pth = site / SITE_DIR / f"sgcflow-{package}.pth"
    pth.parent.mkdir(parents=True, exist_ok=True)
    pth.write_text(zipped_path(package) + "\n")
    return archive


def dependency_layer(architecture: str, build_dir: Path = BUILD_DIR) -> Path:
    """Folder of a Lambda layer (``python/…``) with the pinned dependencies, built once.

    The result is cached by ``layer_key``; a build goes to a temporary folder first and is
    renamed into place, so parallel test workers never see a half-built layer.
    """
    key = layer_key(architecture)
    layer = build_dir / f"layer-{architecture}-{key}"
    if (layer / "python").is_dir():
        return layer
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".layer-{architecture}-", dir=build_dir))
    try:
        _install(architecture, build_dir / f"wheels-{architecture}", staging / "python")
        trim(staging / "python")
        for package in ZIPPED_PACKAGES:
            zip_package(staging / "python", package)
        try:
            staging.rename(layer)
        except OSError:
            if not (layer / "python").is_dir():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in build_dir.glob(f"layer-{architecture}-*"):
        if stale != layer:  # older pins or trim rules: ~200-300 MB each
            shutil.rmtree(stale, ignore_errors=True)
    return layer


def python_path() -> str:
    """PYTHONPATH for the functions: the runtime's default plus the zipped packages."""
    return ":".join(["/var/runtime", *(zipped_path(p) for p in ZIPPED_PACKAGES)])


def stub_layer(build_dir: Path = BUILD_DIR) -> Path:
    """A near-empty layer for synthesis without bundling (unit tests, offline first synth)."""
    layer = build_dir / "layer-stub"
    marker = layer / "python" / "SGCFLOW_STUB_LAYER.txt"
    if not marker.is_file():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("Placeholder: synthesize with -c bundle=full to ship dependencies.\n")
    return layer


NUMBA_CACHE_FOLDER = "numba_cache"


def shipped_files(root: Path = ROOT, with_cache: bool = True) -> list[Path]:
    """What the function asset holds, relative to ``root``: every file of ``functions/`` (the
    handlers, and the shipped Numba cache unless ``with_cache=False``) and the ``coordinator``
    modules those handlers import (``infra.import_closure``), never byte code. Not the CLI, the
    emulator, the benchmarks or the simulators: a Lambda never runs them."""
    handlers = [p for p in (root / HANDLER_PACKAGE).rglob("*") if p.is_file()]
    imported = [p for p in closure(root) if p.relative_to(root).parts[0] != HANDLER_PACKAGE]
    kept = []
    for path in sorted(handlers + imported):
        parts = path.relative_to(root).parts
        if "__pycache__" in parts or path.suffix == ".pyc":
            continue
        if not with_cache and parts[:2] == (HANDLER_PACKAGE, NUMBA_CACHE_FOLDER):
            continue
        kept.append(path.relative_to(root))
    return kept


def source_digest(root: Path = ROOT, with_cache: bool = True,
                  files: list[Path] | None = None) -> str:
    """Hash of the function source (relative paths + bytes of every shipped file); ``files``
    is ``shipped_files(root, with_cache)`` when the caller already has it."""
    digest = hashlib.sha256()
    digest.update(b"cache" if with_cache else b"no-cache")
    for relative in shipped_files(root, with_cache) if files is None else files:
        digest.update(str(relative).encode())
        digest.update((root / relative).read_bytes())
    return digest.hexdigest()[:16]


def source_asset(root: Path = ROOT, build_dir: Path = BUILD_DIR,
                 with_cache: bool = True) -> Path:
    """Folder with what Lambda runs (``shipped_files``), files copied with their mtimes.
    ``with_cache=False`` leaves out the shipped Numba cache: a placeholder-layer synthesis
    (bundle=source) has no numba to use it, and then cannot race a cache being rebuilt."""
    files = shipped_files(root, with_cache)  # one walk of the import closure, hashed and copied
    kind = "source-cache" if with_cache else "source-plain"
    folder = build_dir / f"{kind}-{source_digest(root, with_cache, files)}"
    _prune_sources(build_dir, kind, keep=folder)
    if folder.is_dir():
        os.utime(folder)  # in use again: the age the pruning reads is the time since last use
        return folder
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".source-", dir=build_dir))
    try:
        for relative in files:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, staging / relative)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _prune_sources(build_dir: Path, kind: str, keep: Path, min_age_s: float = 600.0) -> None:
    """Drop folders of the same kind left by earlier edits and unused for ``min_age_s``. The
    other kind is never touched: a suite uses both at once, and a folder built at its start
    must survive a rebuild of the other kind twenty minutes later."""
    now = time.time()
    before_kinds = [p for p in build_dir.glob("source-*")  # named by digest alone, earlier
                    if re.fullmatch(r"source-[0-9a-f]{16}", p.name)]
    for stale in [*build_dir.glob(f"{kind}-*"), *before_kinds]:
        if stale != keep and now - stale.stat().st_mtime > min_age_s:
            shutil.rmtree(stale, ignore_errors=True)


def tree_bytes(folder: Path) -> int:
    """Unzipped size of a folder: the sum of its regular files (symlinks not followed)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


SHIPPED_NUMBA_CACHE = ROOT / "functions" / "numba_cache"  # gitignored; copied into the asset
VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"
HOST_MACHINES = {"x86_64": ("x86_64", "AMD64"), "arm64": ("aarch64", "arm64")}


def lambda_python() -> str | None:
    """A local CPython 3.12 (Lambda's version): on PATH, or one pyenv installed."""
    candidates = [shutil.which(f"python{LAMBDA_PYTHON}"),
                  *sorted(map(str, Path.home().glob(
                      f".pyenv/versions/{LAMBDA_PYTHON}*/bin/python{LAMBDA_PYTHON}")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", VERSION_PROBE], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == LAMBDA_PYTHON:
            return candidate
    return None


# CDK writes every entry of an asset zip with this time (1980-01-01T00:00:00Z, the zip epoch),
# so in Lambda /var/task/functions/kernels.py has this mtime. Numba's cache index records the
# source's (mtime, size) and ignores the cache when they differ: the cache must be built from
# sources stamped like that, or every cold start recompiles (and a checkout's own mtime would
# make the asset differ from machine to machine).
ZIP_EPOCH = 315532800
ADDR_NO_RANDOMIZE = 0x0040000  # personality(2) flag, what `setarch -R` sets


def _without_address_randomization() -> None:
    """preexec_fn: Numba writes object reprs (``<function f at 0x7f…>``) into its cache files;
    with the same hash seed and no ASLR the addresses, hence the bytes, repeat run to run."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).personality(ADDR_NO_RANDOMIZE)
    except (AttributeError, OSError):  # not Linux: the cache works, only its bytes vary
        pass


# Numba writes source paths into its cache files: the file and line of every exception a kernel
# may raise, numpy's and numba's inlined code included. So the bytes depend on where the sources
# and the layer sit when the cache is built; every build, from any clone, puts them here (the
# layer by a symlink), and the cache repeats byte for byte across checkouts, CI and machines.
NUMBA_BUILD_ROOT = Path("/tmp/sgcflow-build")


@contextmanager
def fixed_build_root(build_root: Path = NUMBA_BUILD_ROOT) -> Iterator[Path]:
    """``build_root``, held under an exclusive lock (two clones building at once take turns)."""
    try:
        build_root.mkdir(parents=True, exist_ok=True)
        lock = (build_root / ".lock").open("w")
    except OSError as error:
        raise PackagingError(f"the Numba cache is built in {build_root} (a fixed path, so that "
                             f"every clone builds the same bytes) and it is not writable: "
                             f"{error.strerror or error}; remove it or make it yours") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield build_root


def stamped_sources(destination: Path, root: Path = ROOT) -> Path:
    """``destination`` filled with a copy of ``root``'s ``functions/`` (without its cache) and
    of the contract the kernels import, every file carrying the zip epoch as mtime."""
    shutil.rmtree(destination, ignore_errors=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "numba_cache")
    shutil.copytree(root / "functions", destination / "functions", ignore=skip)
    shutil.copytree(root / "coordinator" / "contract", destination / "coordinator" / "contract",
                    ignore=skip)
    shutil.copy2(root / "coordinator" / "__init__.py", destination / "coordinator" / "__init__.py")
    for path in destination.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    return destination


def _link(link: Path, target: Path) -> Path:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)
    return link


def _build_environment(build_root: Path, layer: Path, sources: Path,
                       architecture: str) -> dict[str, str]:
    """The whole environment of the cache build, the same from every clone and shell. Numba
    writes object addresses into the cache (reprs, and ``__numba_parfor_gufunc_0x7fff…``
    names), which repeat only if the build allocates exactly alike: Python copies the
    environment into objects, so a longer PWD, PATH or VIRTUAL_ENV would shift them."""
    path = [str(layer), *(str(layer / f"{package}.zip") for package in ZIPPED_PACKAGES),
            str(sources)]
    return {"PATH": "/usr/bin:/bin", "HOME": str(build_root), "LC_ALL": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(path), "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
            # Byte code neither read nor written: loading a module from a .pyc allocates
            # otherwise than compiling it, and a build would find what the last one wrote (in
            # the layer, too, which ships).
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(build_root / "no-pycache"),
            "NUMBA_CPU_NAME": shipped_cpu(HOST_MACHINES[architecture][0]),
            "NUMBA_CPU_FEATURES": "",
            "SGC_NUMBA_SHIPPED_CACHE": str(sources / "no-shipped-cache")}


def build_numba_cache(architecture: str, root: Path = ROOT,
                      layer_site: Path | None = None, sample: bool = False) -> Path | None:
    """Compile the worker's kernels into ``root/functions/numba_cache/`` (which the source asset
    ships, see functions/numba_setup.py) with Python 3.12 and the layer's own numba
    (``layer_site``: the layer's ``python/`` folder, built when not given), for the CPU every
    Lambda worker runs (``numba_setup.SHIPPED_CPU``): a cold start then loads them instead of
    compiling (~20 s). Numba caches are per Python version and numba build, hence the layer's
    packages and not the venv's.
    Deterministic, on any machine and from any clone (a redeploy changes no asset): sources
    stamped with the zip epoch, sources and layer seen at fixed paths (``NUMBA_BUILD_ROOT``),
    the same command line and environment (the cache is built there too, then copied),
    ``PYTHONHASHSEED=0``, no address randomization.
    Returns None, and the functions compile at init, when this host cannot run that layer
    (another architecture) or has no Python 3.12. ``sample``: a few kernels only
    (``functions.kernel_cache.compile_sample``), to check determinism quickly; never shipped."""
    python = lambda_python()
    if platform.machine() not in HOST_MACHINES[architecture] or python is None:
        return None
    site = layer_site or dependency_layer(architecture) / "python"
    destination = root / "functions" / NUMBA_CACHE_FOLDER
    with fixed_build_root() as build_root:
        sources = stamped_sources(build_root / "source", root)
        layer = _link(build_root / "layer", site.resolve())
        built = build_root / "cache"
        shutil.rmtree(built, ignore_errors=True)
        command = [python, "-m", "functions.kernel_cache", "build", str(built)]
        done = subprocess.run(command + (["--sample"] if sample else []),
                              env=_build_environment(build_root, layer, sources, architecture),
                              capture_output=True, text=True, cwd=sources,
                              preexec_fn=_without_address_randomization)
        if done.returncode == 0:
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(built, destination)
    if done.returncode != 0:  # say why: the build runs in another Python on the layer
        raise RuntimeError(f"building the Numba cache with {python} failed "
                           f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
    return destination


def bundle_report(architecture: str) -> BundleReport:
    """Build (or reuse) the layer and source folders and measure them."""
    return BundleReport(layer_bytes=tree_bytes(dependency_layer(architecture)),
                        source_bytes=tree_bytes(source_asset()))


def main() -> None:
    """`python -m infra.packaging [x86_64|arm64]`: build the layer and the shipped Numba cache,
    and print the bundle's size."""
    architecture = sys.argv[1] if len(sys.argv) > 1 else "x86_64"
    cache = build_numba_cache(architecture)
    print(f"numba cache: {cache}" if cache else
          "numba cache: not built (needs Python 3.12 on a host of this architecture); "
          "workers will compile their kernels at init (~20 s per cold start)")
    report = bundle_report(architecture)
    mib = 1024 * 1024
    print(f"layer {report.layer_bytes / mib:.1f} MiB + source {report.source_bytes / mib:.2f} MiB"
          f" = {report.total_bytes / mib:.1f} MiB unzipped (limit 250 MiB) -> "
          f"{'fits' if report.fits else 'TOO LARGE'}")


if __name__ == "__main__":
    main()
