"""Measured memory of one worker: the runtime after import, and one invocation's peak on top.

Runs in a fresh process, printing one JSON object, so nothing else's memory is counted:

    python -m coordinator.cli.worker_memory D HIDDEN ROWS PARTITIONS   # an mlp, d -> HIDDEN -> 10
    python -m coordinator.cli.worker_memory MODEL ROWS PARTITIONS      # any model, as JSON, e.g.
        '{"kind": "cnn", "input": [1, 28, 28], "conv": [[6, 5], [16, 5]], "hidden": [72]}'

(a MODEL's ``n_features`` defaults to its input's C*H*W for a cnn, ``n_classes`` to 10; an image
model's partitions record its input as their image shape).


- ``runtime_mb``: resident memory after ``import functions.worker`` (Numba setup, every kernel
  loaded from the cache or compiled, numpy, pyarrow, boto3) plus the S3/DynamoDB clients that the
  first invocation creates;
- ``task_mb``: the peak of one cold invocation above the resident memory just before it (Linux
  ``/proc/self/clear_refs`` resets the peak; ``malloc_trim`` first returns freed heap pages, so
  the dataset built for the run does not hide the worker's own allocations).

S3 is an in-memory stand-in (``_MemoryS3``), not moto: moto keeps request bodies and stored
objects in this same process (measured: about 3 extra copies of each uploaded result), memory a
real worker never holds. The stand-in's ``get_object`` returns a fresh copy of the object, as a
download does; ``put_object`` reads the body once without keeping it.
"""

from __future__ import annotations

import ctypes
import gc
import io
import json
import os
import sys

MB = 2**20


class _MemoryS3:
    """The two S3 calls a worker makes, on a dict of bytes."""

    class exceptions:  # noqa: N801 - the attribute names of a boto3 client
        class NoSuchKey(Exception):
            pass

        class NoSuchBucket(Exception):
            pass

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 - boto3's names
        if Key not in self.objects:
            raise self.exceptions.NoSuchKey(Key)
        # one fresh copy, as a download makes (BytesIO(obj).read() would hand back obj itself)
        return {"Body": io.BytesIO(bytes(memoryview(self.objects[Key])))}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict:  # noqa: N803
        self.objects[Key] = len(Body)  # the size only: the body goes to S3, not into memory
        return {}


def _status() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmHWM", "VmRSS")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def _reset_peak() -> float:
    """Resident MB after returning freed heap pages, with the peak reset to it."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return _status()["VmRSS"]


def measure(spec, rows: int, partitions: int) -> dict:
    """Runtime and one invocation's peak for ``spec`` on ``partitions`` partitions of ``rows``."""
    import tempfile

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.update({"AWS_ACCESS_KEY_ID": "memory", "AWS_SECRET_ACCESS_KEY": "memory",
                       "SGC_BUCKET": "worker-memory"})
    os.environ.pop("SGC_TABLE", None)  # no completion record: DynamoDB is not measured
    import numpy as np

    from functions import worker

    rt = worker.runtime()
    runtime_mb = _status()["VmRSS"]
    from coordinator.storage import dataset_prep

    objects: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        table = dataset_prep.synthetic(rows=rows * partitions, features=spec.n_features,
                                       classes=spec.n_classes, seed=0)
        if spec.kind == "cnn":
            table.extra["image_shape"] = list(spec.input)
        dataset_prep.prepare(table, folder, k=partitions)
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as blob:
                objects[f"ds/{name}"] = blob.read()
        del table
    buffer = io.BytesIO()
    np.save(buffer, spec.init())
    objects["params.npy"] = buffer.getvalue()
    del buffer
    rt.s3 = rt.store.s3 = _MemoryS3(objects)
    with tempfile.TemporaryDirectory() as cache:
        rt.store.cache_dir = __import__("pathlib").Path(cache)
        event = {"run": "memory", "round": 1, "worker": 0,
                 "tasks": [{"job": 1, "model": spec.to_dict(), "params_key": "params.npy",
                            "dataset": "ds", "coefficients": {
                                str(p): 1.0 + p for p in range(partitions)}}]}
        before = _reset_peak()
        worker.handler(event, None)
        task_mb = _status()["VmHWM"] - before
    from coordinator.spec.model_budget import memory_bytes

    return {"n_params": spec.n_params, "rows": rows * partitions, "runtime_mb": runtime_mb,
            "task_mb": task_mb, "estimate_task_mb": memory_bytes(spec, rows * partitions) / MB}


USAGE = ("usage: python -m coordinator.cli.worker_memory D HIDDEN ROWS PARTITIONS\n"
         "       python -m coordinator.cli.worker_memory MODEL ROWS PARTITIONS")
# Bounds checked before any work: the run holds the whole dataset in this process's memory.
LIMITS = {"D": (1, 100_000), "ROWS": (1, 1_000_000), "PARTITIONS": (1, 64)}
MAX_DATASET_BYTES = 8 * 2**30


def parse(argv: list[str]):
    """(ModelSpec, rows, partitions) from the command line; ValueError naming the argument."""
    if len(argv) not in (3, 4):
        raise ValueError(f"expected 4 arguments (D HIDDEN ROWS PARTITIONS) or 3 (MODEL ROWS "
                         f"PARTITIONS), got {len(argv)}")
    values = _integers(dict(zip(("ROWS", "PARTITIONS"), argv[-2:], strict=True)))
    spec = _mlp(argv[0], argv[1]) if len(argv) == 4 else _model(argv[0])
    size = spec.n_features * values["ROWS"] * values["PARTITIONS"] * 4
    if size > MAX_DATASET_BYTES:
        raise ValueError(f"D x ROWS x PARTITIONS: {size / 2**30:.1f} GiB of features exceed "
                         f"{MAX_DATASET_BYTES // 2**30} GiB")
    return spec, values["ROWS"], values["PARTITIONS"]


def _integers(raw: dict[str, str]) -> dict[str, int]:
    values = {}
    for name, text in raw.items():
        low, high = LIMITS[name]
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
        if not low <= values[name] <= high:
            raise ValueError(f"{name}: must be between {low} and {high}, got {values[name]}")
    return values


def _mlp(d: str, hidden_text: str):
    from coordinator.contract.models import ModelSpec

    features = _integers({"D": d})["D"]
    try:
        hidden = json.loads(hidden_text)
    except json.JSONDecodeError:
        raise ValueError(f"HIDDEN: expected a JSON list of widths like [512, 256], got "
                         f"{hidden_text!r}") from None
    try:
        return ModelSpec("mlp", features, 10, hidden)
    except ValueError as error:
        raise ValueError(f"HIDDEN: {error}") from None


def _model(text: str):
    from coordinator.contract.models import ModelSpec

    try:
        model = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"MODEL: expected a JSON model like {{\"kind\": \"cnn\", \"input\": "
                         f"[1, 28, 28], \"conv\": [[6, 5]]}}, got {text[:80]!r}") from None
    if not isinstance(model, dict):
        raise ValueError(f"MODEL: expected a JSON object, got {text[:80]!r}")
    image = model.get("input")
    if model.get("kind") == "cnn" and isinstance(image, list) and len(image) == 3 and all(
            isinstance(v, int) for v in image):
        model.setdefault("n_features", image[0] * image[1] * image[2])
    model.setdefault("n_classes", 10)
    try:
        return ModelSpec.from_dict(model)
    except ValueError as error:
        raise ValueError(f"MODEL: {error}") from None


if __name__ == "__main__":
    try:
        arguments = parse(sys.argv[1:])
    except ValueError as error:
        sys.exit(f"{USAGE}\nerror: {error}")
    print(json.dumps(measure(*arguments)))
