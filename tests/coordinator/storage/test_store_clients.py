"""The store's clients: S3's is built on first use, once, whichever thread asks first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from coordinator.storage.state import Store


def test_a_table_only_store_never_builds_an_s3_client(moto_store):
    """`sgc status` and the other commands that read only the table skip S3's service model
    (~0.27 s of every command's start)."""
    store = Store(bucket="bkt-test", table="t", region="us-east-1")
    store.create_job("run-1", {"status": "queued", "created": 1.0})
    assert store.job("run-1")["status"] == "queued"
    assert store._s3 is None


def test_threads_asking_at_once_share_one_s3_client(moto_store):
    store = Store(bucket="bkt-test", table="t", region="us-east-1")
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: store.s3, range(32)))
    assert len({id(c) for c in clients}) == 1
    store.s3.put_object(Bucket="bkt-test", Key="k", Body=b"v")
    assert store.s3.get_object(Bucket="bkt-test", Key="k")["Body"].read() == b"v"


def test_an_s3_client_can_be_handed_in(moto_store):
    """What the worker-memory probe does: its in-memory S3 stands in for the store's."""
    store = Store(bucket="bkt-test", table="t", region="us-east-1")
    stand_in = object()
    store.s3 = stand_in
    assert store.s3 is stand_in


def test_a_named_profile_signs_both_clients(tmp_path, monkeypatch):
    """`sgc … --profile NAME` on AWS: the table and the bucket are reached with that profile's
    credentials, as the stack's outputs and executions are."""
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = s\n"
        "[team]\naws_access_key_id = TEAMKEY\naws_secret_access_key = t\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    store = Store(bucket="b", table="t", region="us-east-1", profile="team")
    for client in (store.ddb, store.s3):
        assert client._request_signer._credentials.access_key == "TEAMKEY"
    assert Store(bucket="b", table="t", region="us-east-1").ddb._request_signer \
        ._credentials.access_key == "DEFAULTKEY"
