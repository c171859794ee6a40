"""`python -m coordinator.cli.worker_memory`: bad arguments are refused by name, before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest
from timeouts import scaled

from coordinator.cli.worker_memory import parse
from coordinator.contract.models import ModelSpec


def test_good_arguments_parse():
    assert parse(["784", "[512, 256]", "1024", "2"]) == (ModelSpec("mlp", 784, 10, [512, 256]),
                                                         1024, 2)
    lenet = '{"kind": "cnn", "input": [1, 28, 28], "conv": [[6, 5], [16, 5]], "hidden": [72]}'
    assert parse([lenet, "1024", "1"]) == (ModelSpec(
        "cnn", 784, 10, [72], "relu", [1, 28, 28], [[6, 5], [16, 5]], 2), 1024, 1)


@pytest.mark.parametrize(("argv", "named"), [
    (["784", "[512]"], "expected 4 arguments"),
    (["{", "1024", "2"], "MODEL: expected a JSON model"),
    (['{"kind": "cnn", "input": [1, 8, 8], "conv": [[4, 4]]}', "8", "1"],
     "MODEL: model.conv\\[0\\]\\[1\\]: kernel must be an odd integer"),
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
