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


def test_a_scoped_query_copies_no_item_and_its_answer_does_not_follow_later_writes(offline_aws):
    """moto's deep copy of every matching item is skipped (a COUNT poll returned none of them);
    the answer is still a snapshot: a later write changes the table, not an earlier response."""
    import copy

    with mock_aws():
        ddb = pk_sk_table(3, 20)
        moto_query.install()
        copied = []
        real = copy.deepcopy
        copy.deepcopy = lambda x, *a: copied.append(x) or real(x, *a)
        try:
            count = ddb.query(TableName="t", Select="COUNT", KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "p1"}})
            items = ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "p1"}})["Items"]
        finally:
            copy.deepcopy = real
        first = items[0]
        ddb.put_item(TableName="t", Item={**first, "extra": {"S": "later"}})
        again = ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "p1"}})["Items"]
    assert count["Count"] == 20 and len(items) == 20
    assert copied == []
    assert "extra" not in first and again[0]["extra"] == {"S": "later"}
