"""moto's table Query, scoped to its partition (coordinator/emulator/moto_query.py): the same
answer, without walking the other partitions."""

from __future__ import annotations

from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto_tables import pk_sk_table

from coordinator.emulator import moto_query


def _query(ddb):
    return ddb.query(TableName="t", KeyConditionExpression="pk = :p AND sk > :s",
                     ExpressionAttributeValues={":p": {"S": "p7"}, ":s": {"S": "004"}},
                     ScanIndexForward=False, Limit=6)


def test_a_scoped_query_answers_as_moto_does_and_reads_one_partition(offline_aws, monkeypatch):
    with mock_aws():
        ddb = pk_sk_table(50, 20)
        before = _query(ddb)
        moto_query.install()
        walked = []
        monkeypatch.setattr(Table, "all_items",
                            lambda self: walked.append("whole table") or [], raising=True)
        after = _query(ddb)
    assert before["Items"] == after["Items"] and len(after["Items"]) == 6
    assert before["LastEvaluatedKey"] == after["LastEvaluatedKey"]
    assert walked == []  # the partition's items only, never the whole table
