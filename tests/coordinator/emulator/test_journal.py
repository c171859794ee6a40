"""Every change to the bucket and the table is on disk when its request returns: what is read
back from the data directory without a clean stop (as after ``kill -9``) is the live state."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError

from coordinator.emulator import moto_lock
from coordinator.emulator.core import ACCOUNT
from coordinator.emulator.journal import Journal
from coordinator.emulator.persist import DataDir, item_id


@pytest.fixture
def journaled(moto_store, tmp_path):
    """The moto_store bucket (versioned, as deployed) and table, journaled into tmp_path/data."""
    moto_lock.install()
    moto_store.s3.put_bucket_versioning(Bucket=moto_store.bucket,
                                        VersioningConfiguration={"Status": "Enabled"})
    moto_store.put_json("before/attach.json", {"v": 0})  # in the first snapshot
    journal = Journal(DataDir(tmp_path / "data"), moto_store.bucket, moto_store.table,
                      account=ACCOUNT, region="us-east-1").attach()
    yield moto_store, journal
    journal.detach()


def live(store) -> tuple[dict, dict]:
    """The bucket's objects (key -> body) and the table's items, through the API."""
    pages = store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    objects = {o["Key"]: store.get_bytes(o["Key"]) for p in pages for o in p.get("Contents", [])}
    items = {item_id({"pk": i["pk"], "sk": i["sk"]}): i
             for i in store.ddb.scan(TableName=store.table, ConsistentRead=True)["Items"]}
    return objects, items


def on_disk(directory) -> tuple[dict, dict]:
    data = DataDir(directory)
    saved = data.load()
    return ({key: data.object_path(key).read_bytes() for key in saved.objects}, saved.items)


def item(pk: str, sk: str, **fields) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in fields.items()}}


def test_every_kind_of_write_is_on_disk_when_it_returns(journaled, tmp_path):
    store, _ = journaled
    s3, ddb, bucket, table = store.s3, store.ddb, store.bucket, store.table
    store.put_json("a.json", {"v": 1})
    store.put_json("a.json", {"v": 2})  # overwritten
    s3.copy_object(Bucket=bucket, Key="copy.json", CopySource={"Bucket": bucket, "Key": "a.json"})
    store.put_json("gone.json", {"v": 0})
    s3.delete_object(Bucket=bucket, Key="gone.json")
    for key in ("x1", "x2"):
        store.put_bytes(key, b"x")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}]})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1,
                          Body=b"m" * 1024)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": part, "PartNumber": 1}]})
    ddb.put_item(TableName=table, Item=item("p", "1", v="a"))
    with pytest.raises(ClientError):  # refused: changes nothing
        ddb.put_item(TableName=table, Item=item("p", "1", v="b"),
                     ConditionExpression="attribute_not_exists(pk)")
    ddb.update_item(TableName=table, Key=item("p", "1"), UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"S": "updated"}})
    ddb.put_item(TableName=table, Item=item("p", "2"))
    ddb.delete_item(TableName=table, Key=item("p", "2"))
    ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": item("b", "1")}}, {"PutRequest": {"Item": item("b", "2")}}]})
    ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": item("b", "2")}}]})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("t", "1", v="t")}},
        {"Update": {"TableName": table, "Key": item("p", "1"), "UpdateExpression": "SET w = :w",
                    "ExpressionAttributeValues": {":w": {"S": "w"}}}}])
    with pytest.raises(ClientError):  # rolled back as a whole
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": item("t", "2")}},
            {"Put": {"TableName": table, "Item": item("t", "1"),
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    store.create_job("run-1", {"status": "running", "round": 1})
    store.update_job("run-1", {"status": "done", "round": 9, "result": {"loss": 0.5}})
    objects, items = live(store)
    assert on_disk(tmp_path / "data") == (objects, items)  # no detach: as after kill -9
    assert set(objects) == {"before/attach.json", "a.json", "copy.json", "big.bin"}
    assert json.loads(objects["a.json"]) == {"v": 2} and objects["big.bin"] == b"m" * 1024
    assert {i["pk"]["S"] + i["sk"]["S"] for i in items.values()} >= {"p1", "b1", "t1"}


def test_a_line_cut_short_by_a_crash_is_skipped(journaled, tmp_path):
    store, journal = journaled
    store.create_job("run-2", {"status": "submitted"})
    expected = live(store)
    with open(journal.data.journal_path(journal.data.load().journal), "ab") as out:
        out.write(b'{"key": {"pk": {"S": "job#run-2"}, "sk": {"S": "me')  # kill -9 mid-write
    assert on_disk(tmp_path / "data") == expected


def test_snapshots_fold_the_journal_in_and_replaying_an_old_journal_changes_nothing(
        journaled, tmp_path):
    store, journal = journaled
    journal.compact_after = 5
    for t in range(12):
        store.put_json(f"runs/r/{t % 4}.json", {"t": t})
        store.update_job("run-3", {"round": t})
    data = DataDir(tmp_path / "data")
    assert data.load().journal > 2  # folded in (twice at least)
    assert len(data.changes(data.load().journal)) < 5
    assert on_disk(tmp_path / "data") == live(store)
    journal.compact_after = 10_000
    store.put_json("runs/r/0.json", {"t": "latest"})
    store.update_job("run-3", {"round": 99})
    old = data.load().journal
    meta = (tmp_path / "data" / "meta.json").read_bytes()
    lines = data.journal_path(old).read_bytes()
    journal.detach()  # a snapshot; now pretend its meta.json never landed (a crash midway)
    assert data.load().journal == old + 1 and data.changes(old + 1) == []
    data.journal_path(old).write_bytes(lines)
    (tmp_path / "data" / "meta.json").write_bytes(meta)
    assert data.load().journal == old
    assert on_disk(tmp_path / "data") == live(store)


def test_concurrent_requests_are_all_on_disk(journaled, tmp_path):
    store, _ = journaled

    def writer(w: int) -> None:
        for t in range(10):
            store.put_json(f"runs/c/{w}.json", {"t": t})
            store.record_round("run-c", t * 8 + w, "dispatch", {"w": w})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert on_disk(tmp_path / "data") == live(store)
