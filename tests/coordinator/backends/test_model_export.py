"""Trained models out of the bucket: named arrays and a card per model, refused unless the
parameters hash to the digest the job recorded; predictions in the source's labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.backends.model_export import DownloadRefused, download, evaluate, trained_models
from coordinator.contract.models import ModelSpec
from coordinator.contract.trained import ModelFileError, load_models
from coordinator.control.memstore import MemoryStore
from coordinator.control.plan import DatasetInfo, JobPlan
from coordinator.storage import dataset_prep, dataset_publish, dataset_sources, integrity

RUN = "run-export"
CSV = "a,b,kind\n" + "".join(f"{i},{(i * 7) % 11},{'cat' if i % 2 else 'dog'}\n"
                             for i in range(30))


def finished_job(tmp_path) -> tuple[MemoryStore, list[np.ndarray]]:
    """A done job with a logreg and an mlp, trained on string labels with standardization."""
    (tmp_path / "pets.csv").write_text(CSV)
    store = MemoryStore()
    table = dataset_sources.load_source(str(tmp_path / "pets.csv"), label_column="kind",
                                        standardize=True)
    manifest, parts = dataset_prep.build(table, k=2, stamp=False)
    prefix, digest = dataset_publish.publish(store, manifest, parts)
    specs = [ModelSpec("logreg", 2, 2), ModelSpec("mlp", 2, 2, 4)]
    plan = JobPlan(RUN, store.bucket, n=2, T=0, jobs=4, models=tuple(s.to_dict() for s in specs),
                   lrs=(0.5, 0.3), dataset=DatasetInfo(prefix, 30, 2, 2, (15, 15), digest))
    rng = np.random.default_rng(0)
    finals = [rng.standard_normal(s.n_params).astype(np.float32) for s in specs]
    digests = {str(plan.job_of(m, 3)): integrity.write_array(store, plan.final_params_key(m), p)
               for m, p in enumerate(finals)}
    store.create_job(RUN, {"spec": {"models": [], "scheme": {"name": "gc"}, "workers": 2},
                           "plan": plan.to_dict(), "status": "done"})
    store.record_round(RUN, 4, "update", {"params_sha256": digests})
    store.put_json(f"runs/{RUN}/result.json", {
        "job": RUN, "summary": {"final_losses": [0.25, 0.125]},
        "models": [{"model": m, **specs[m].to_dict(), "lr": plan.lrs[m], "losses": [1.0, 0.5],
                    "final_params_key": plan.final_params_key(m), "status": "done",
                    "reason": None} for m in range(2)]})
    return store, finals


def test_models_come_out_named_with_their_card(tmp_path):
    store, finals = finished_job(tmp_path)
    written = download(store, RUN, store.job(RUN), tmp_path / "models")
    assert sorted(p.name for p in written) == ["model-0.json", "model-0.npz", "model-1.json",
                                               "model-1.npz"]
    card = json.loads((tmp_path / "models" / "model-1.json").read_text())
    assert card["kind"] == "mlp" and card["hidden"] == 4 and card["activation"] == "relu"
    assert card["classes"] == ["cat", "dog"] and card["labels"] == ["cat", "dog"]
    second = np.mean([(i * 7) % 11 for i in range(30)])
    assert card["standardize"]["mean"] == pytest.approx([14.5, second])
    assert card["feature_columns"] == ["a", "b"] and card["label_column"] == "kind"
    assert (card["iterations_done"], card["final_loss"]) == (2, 0.125)
    assert card["params_sha256"] == integrity.digest(integrity.npy_bytes(finals[1]))
    with np.load(tmp_path / "models" / "model-0.npz") as arrays:
        assert sorted(arrays.files) == ["W", "b"] and np.array_equal(arrays["W"], finals[0][:2])
    models = load_models(tmp_path / "models")
    assert [m.kind for m in models] == ["logreg", "mlp"]
    assert set(models[1].params) == {"W1", "b1", "W2", "b2"}


def test_predictions_are_in_the_source_labels_on_unscaled_rows(tmp_path):
    store, _ = finished_job(tmp_path)
    model = trained_models(store, RUN, store.job(RUN))[0]
    X = np.array([[3.0, 21.0], [28.0, 1.0]])
    proba = model.predict_proba(X)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(X)) <= {"cat", "dog"}
    scaled = (X - np.array(model.preprocessing.mean)) / np.array(model.preprocessing.std)
    z = scaled @ model.params["W"] + model.params["b"][0]
    assert np.allclose(proba[:, 1], 1 / (1 + np.exp(-z)))
    (tmp_path / "test.csv").write_text(CSV)
    rows, count = evaluate([model], str(tmp_path / "test.csv"))
    assert count == 30 and set(rows[0]) == {"index", "accuracy", "loss"}
    (tmp_path / "fish.csv").write_text("a,b,kind\n1,2,fish\n")
    with pytest.raises(ValueError, match="label 'fish'"):
        evaluate([model], str(tmp_path / "fish.csv"))
    (tmp_path / "short.csv").write_text("a,kind\n1,cat\n")
    with pytest.raises(ValueError, match="column 'b'"):
        evaluate([model], str(tmp_path / "short.csv"))


def test_a_parameter_file_changed_in_the_bucket_is_refused(tmp_path):
    store, finals = finished_job(tmp_path)
    plan = JobPlan.from_dict(store.job(RUN)["plan"])
    integrity.write_array(store, plan.final_params_key(1), finals[1] + 1)
    with pytest.raises(DownloadRefused, match="refused: .*sha256"):
        download(store, RUN, store.job(RUN), tmp_path / "models")
    assert not (tmp_path / "models").exists()  # nothing written


def test_parameters_without_a_recorded_digest_are_refused(tmp_path):
    store, _ = finished_job(tmp_path)
    store.round_log.clear()
    with pytest.raises(DownloadRefused, match="no digest"):
        trained_models(store, RUN, store.job(RUN))


def test_a_model_file_changed_after_download_is_refused(tmp_path):
    store, finals = finished_job(tmp_path)
    download(store, RUN, store.job(RUN), tmp_path / "models")
    np.savez(tmp_path / "models" / "model-0.npz", W=finals[0][:2] + 1, b=finals[0][2:])
    with pytest.raises(ModelFileError, match="do not hash to the job's record"):
        load_models(tmp_path / "models")
    with pytest.raises(ModelFileError, match="no such folder"):
        load_models(tmp_path / "nowhere")
