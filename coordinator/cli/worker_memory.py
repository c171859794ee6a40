"""Measured memory of one worker: the runtime after import, and one invocation's peak on top.

Runs in a fresh process (``python -m coordinator.cli.worker_memory D HIDDEN ROWS PARTITIONS``,
printing one JSON object), so nothing else's memory is counted:

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
        return {"Body": io.BytesIO(bytes(bytearray(self.objects[Key])))}

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


def measure(d: int, hidden: list[int], rows: int, partitions: int) -> dict:
    """Runtime and one invocation's peak for an mlp on ``partitions`` partitions of ``rows``."""
    import tempfile

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.update({"AWS_ACCESS_KEY_ID": "memory", "AWS_SECRET_ACCESS_KEY": "memory",
                       "SGC_BUCKET": "worker-memory"})
    os.environ.pop("SGC_TABLE", None)  # no completion record: DynamoDB is not measured
    import numpy as np

    from functions import worker

    rt = worker.runtime()
    runtime_mb = _status()["VmRSS"]
    from coordinator import dataset_prep
    from coordinator.contract.models import ModelSpec

    spec = ModelSpec("mlp", d, 10, hidden)
    objects: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        table = dataset_prep.synthetic(rows=rows * partitions, features=d, classes=10, seed=0)
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
    from coordinator.model_budget import memory_bytes

    return {"n_params": spec.n_params, "rows": rows * partitions, "runtime_mb": runtime_mb,
            "task_mb": task_mb, "estimate_task_mb": memory_bytes(spec, rows * partitions) / MB}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]),
                             int(sys.argv[4]))))
