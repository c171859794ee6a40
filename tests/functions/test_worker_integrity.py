"""The control plane's digests reach the worker: a changed parameter file and a partition swapped
together with its manifest are refused with typed errors (so the worker is a straggler)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from test_worker import _expect_error

from coordinator.contract import errors
from coordinator.contract.models import ModelSpec
from coordinator.control import run_dataset
from coordinator.control.plan import JobPlan
from coordinator.storage import dataset_prep, integrity
from coordinator.storage.state import Store
from functions import worker

DATASET = {"name": "synthetic", "rows": 600, "features": 12, "classes": 3, "seed": 5}
MODEL = ModelSpec("softmax", 12, 3)


def _plan(aws) -> tuple[Store, JobPlan, str]:
    """What the Plan step does: the dataset partitioned (its manifest digest kept) and the
    initial parameters written with their digest."""
    store = Store(bucket=aws.bucket, table=aws.table)
    info = run_dataset.prepare(store, DATASET, [0.25] * 4)
    plan = JobPlan(run_id="run-integrity", bucket=aws.bucket, n=4, T=0, jobs=1,
                   models=(MODEL.to_dict(),), lrs=(0.5,), dataset=info)
    digest = integrity.write_array(store, plan.params_key(1), MODEL.init(seed=0))
    return store, plan, digest


def test_the_plan_records_the_manifest_digest_and_tasks_carry_both_digests(aws):
    store, plan, digest = _plan(aws)
    assert plan.dataset.manifest_sha256 == integrity.manifest_checksum(store, plan.dataset.prefix)
    event = plan.worker_event(1, 0, {1: {0: 1.0}}, {1: digest})
    (task,) = event["tasks"]
    assert task["manifest_sha256"] == plan.dataset.manifest_sha256
    assert task["params_sha256"] == digest
    assert worker.handler(event, None)["status"] == "ok"
    assert JobPlan.from_dict(plan.to_dict()) == plan  # the job record keeps the digest


def test_a_parameter_file_changed_since_it_was_written_is_refused(aws):
    store, plan, digest = _plan(aws)
    store.put_array(plan.params_key(1), MODEL.init(seed=0) + np.float32(1e-2))
    event = plan.worker_event(1, 1, {1: {1: 1.0}}, {1: digest})
    _expect_error(aws, event, errors.ChecksumError, "params/job-000001.npy sha256",
                  f"the job recorded {digest}")
    bad = plan.worker_event(1, 2, {1: {1: 1.0}}, {1: "../" + digest[3:]})
    _expect_error(aws, bad, errors.EventError, "tasks[0].params_sha256", "64 lower-case hex")


def test_a_partition_swapped_together_with_its_manifest_is_refused(aws):
    _, plan, digest = _plan(aws)
    event = plan.worker_event(1, 0, {1: {0: 1.0, 1: 1.0}}, {1: digest})
    assert worker.handler(event, None)["status"] == "ok"
    # Other rows under the same prefix: partitions and a manifest that vouches for them.
    other = dataset_prep.synthetic(rows=600, features=12, classes=3, seed=99)
    dataset_prep.prepare(other, f"s3://{aws.bucket}/{plan.dataset.prefix}", sizes=[0.25] * 4,
                     s3=aws.s3)
    worker.reset_runtime()  # a fresh execution environment: nothing cached
    _expect_error(aws, {**event, "worker": 1}, errors.SchemaMismatchError,
                  "manifest.json sha256", f"the job recorded {plan.dataset.manifest_sha256}")


def test_a_warm_worker_never_serves_a_re_prepared_prefix_from_its_stale_manifest(aws):
    """The worker cached the prefix's manifest; the prefix is prepared again with other rows and
    a later job plans on it: the warm worker reads the new manifest (the job's digest names it),
    not the one it cached, and computes on the new rows."""
    store, plan, digest = _plan(aws)
    event = plan.worker_event(1, 0, {1: {0: 1.0}}, {1: digest})
    assert worker.handler(event, None)["status"] == "ok"  # manifest and partition cached
    other = dataset_prep.synthetic(rows=600, features=12, classes=3, seed=99)
    manifest = dataset_prep.prepare(other, f"s3://{aws.bucket}/{plan.dataset.prefix}",
                                    sizes=[0.25] * 4, s3=aws.s3)
    later = JobPlan(run_id="run-later", bucket=aws.bucket, n=4, T=0, jobs=1,
                    models=plan.models, lrs=plan.lrs,
                    dataset=replace(plan.dataset, manifest_sha256=integrity.manifest_checksum(
                        store, plan.dataset.prefix)))
    params = integrity.write_array(store, later.params_key(1), MODEL.init(seed=0))
    assert worker.handler(later.worker_event(1, 0, {1: {0: 1.0}}, {1: params}),
                          None)["status"] == "ok"
    served = worker.runtime().store.manifest(aws.bucket, plan.dataset.prefix,
                                             later.dataset.manifest_sha256)
    assert served["partitions"] == manifest["partitions"]  # the new rows, not the cached ones
    assert served["partitions"][0]["sha256"] != plan.dataset.partition_sha256[0]
