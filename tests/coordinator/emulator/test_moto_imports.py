"""The emulator spares moto's Batch and EC2 models on start, and Batch still imports whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return done.stdout.strip()


def test_the_state_machine_interpreter_loads_without_batch_or_ec2():
    out = _python(
        "import sys\n"
        "from coordinator.emulator import moto_imports\n"
        "moto_imports.load_batch_utils()\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import "
        "state_task_service_factory\n"
        "from moto.batch.utils import JobStatus\n"
        "print(JobStatus.SUCCEEDED.value, 'moto.batch' in sys.modules, "
        "'moto.ec2.models' in sys.modules)\n")
    assert out == "SUCCEEDED False False"


def test_a_later_import_of_batch_runs_the_whole_package():
    """moto imports Batch's modules by name (``from moto.batch.utils import ...``), which finds
    the module already loaded; the package itself loads its models as usual."""
    out = _python(
        "from coordinator.emulator import moto_imports\n"
        "moto_imports.load_batch_utils()\n"
        "import moto.batch\n"
        "from moto.batch import models\n"
        "from moto.batch.utils import JobStatus\n"
        "print(type(moto.batch.batch_backends).__name__, models.JobStatus is JobStatus)\n")
    assert out == "BackendDict True"
