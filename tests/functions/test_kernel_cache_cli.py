"""`python -m functions.kernel_cache`: its arguments are checked before anything compiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


def _kernel_cache(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "functions.kernel_cache", *arguments],
                          capture_output=True, text=True, cwd=cwd, env=ENV)


@pytest.mark.parametrize("arguments", [[], ["build"], ["make", "out"], ["build", "out", "--all"],
                                       ["build", "out", "--sample", "extra"],
                                       ["build", "--sample"]])
def test_wrong_arguments_get_the_usage_line(arguments, tmp_path):
    done = _kernel_cache(*arguments, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("usage:") and "[--sample]" in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "--sample").exists()


def test_a_build_needs_the_shipped_cpu_named(tmp_path):
    """Without NUMBA_CPU_NAME set to the shipped CPU the build refuses (it would compile for
    this host's CPU and ship that)."""
    done = _kernel_cache("build", "out", "--sample", cwd=tmp_path)
    assert done.returncode == 1 and "NUMBA_CPU_NAME=x86-64-v3" in done.stderr
    assert not (tmp_path / "out").exists()
