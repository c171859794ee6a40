"""`python -m coordinator.cli.worker_memory`: bad arguments are refused by name, before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest
from timeouts import scaled

from coordinator.cli.worker_memory import parse


def test_good_arguments_parse():
    assert parse(["784", "[512, 256]", "1024", "2"]) == (784, [512, 256], 1024, 2)


@pytest.mark.parametrize(("argv", "named"), [
    (["784", "[512]", "1024"], "expected 4 arguments"),
    (["x", "[512]", "1024", "2"], "D: expected an integer"),
    (["784", "nope", "1024", "2"], "HIDDEN: expected a JSON list"),
    (["784", "[0]", "1024", "2"], "HIDDEN: model.hidden"),
    (["784", "[512]", "0", "2"], "ROWS: must be between 1 and 1000000"),
    (["784", "[512]", "1024", "65"], "PARTITIONS: must be between 1 and 64"),
    (["100000", "[4]", "1000000", "64"], "D x ROWS x PARTITIONS"),
])
def test_bad_arguments_name_the_argument(argv, named):
    with pytest.raises(ValueError, match=named):
        parse(argv)


def test_the_command_prints_usage_and_no_traceback():
    done = subprocess.run([sys.executable, "-m", "coordinator.cli.worker_memory", "784", "[0]",
                           "8", "1"], capture_output=True, text=True, timeout=scaled(60))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "usage:" in done.stderr and "HIDDEN: model.hidden" in done.stderr
