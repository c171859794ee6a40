"""moto's table Query, scoped to its partition (coordinator/emulator/moto_query.py): the same
answer, without walking the other partitions."""

from __future__ import annotations

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table

from coordinator.emulator import moto_query


def _table():
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    for p in range(50):
        for s in range(20):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"{s:03d}"}})
    return ddb


def _query(ddb):
    return ddb.query(TableName="t", KeyConditionExpression="pk = :p AND sk > :s",
                     ExpressionAttributeValues={":p": {"S": "p7"}, ":s": {"S": "004"}},
                     ScanIndexForward=False, Limit=6)


def test_a_scoped_query_answers_as_moto_does_and_reads_one_partition(offline_aws, monkeypatch):
    with mock_aws():
        ddb = _table()
        before = _query(ddb)
        moto_query.install()
        walked = []
        monkeypatch.setattr(Table, "all_items",
                            lambda self: walked.append("whole table") or [], raising=True)
        after = _query(ddb)
    assert before["Items"] == after["Items"] and len(after["Items"]) == 6
    assert before["LastEvaluatedKey"] == after["LastEvaluatedKey"]
    assert walked == []  # the partition's items only, never the whole table
