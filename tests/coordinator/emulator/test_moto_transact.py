"""moto's TransactWriteItems backed up by the items it names
(coordinator/emulator/moto_transact.py): the same outcome as moto's whole-table backup, success
or failure, without copying the table."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto_tables import pk_sk_table

from coordinator.emulator import moto_transact


def _key(p, s):
    return {"pk": {"S": p}, "sk": {"S": s}}


def _everything(ddb):
    return sorted((i["pk"]["S"], i["sk"]["S"], i.get("n", {}).get("N"))
                  for i in ddb.scan(TableName="t")["Items"])


def _transaction(fail: bool):
    """A put of a new item, an update and a delete of existing ones, then a condition that
    holds or not (the last item decides the whole transaction)."""
    return [
        {"Put": {"TableName": "t", "Item": {**_key("p1", "new"), "n": {"N": "99"}}}},
        {"Update": {"TableName": "t", "Key": _key("p2", "003"), "UpdateExpression": "SET n = :v",
                    "ExpressionAttributeValues": {":v": {"N": "42"}}}},
        {"Delete": {"TableName": "t", "Key": _key("p3", "004")}},
        {"ConditionCheck": {"TableName": "t", "Key": _key("p4", "000"),
                            "ConditionExpression": "n = :z",
                            "ExpressionAttributeValues": {":z": {"N": "1" if fail else "0"}}}},
    ]


@pytest.fixture
def copied(monkeypatch):
    """Records every deep copy of a whole table."""
    seen = []
    monkeypatch.setattr(Table, "__deepcopy__", lambda self, memo: seen.append(self.name) or self,
                        raising=False)
    return seen


@pytest.mark.parametrize("fail", [False, True])
def test_a_transaction_ends_as_with_mots_own_backup_without_copying_the_table(
        offline_aws, copied, fail):
    moto_transact.install()
    with mock_aws():
        ddb = pk_sk_table(20, 10)
        before = _everything(ddb)
        if fail:
            with pytest.raises(ClientError, match="TransactionCanceled"):
                ddb.transact_write_items(TransactItems=_transaction(fail))
        else:
            ddb.transact_write_items(TransactItems=_transaction(fail))
        after = _everything(ddb)
    if fail:
        assert after == before  # every named item back as it was, the new one gone
    else:
        want = sorted({*before, ("p1", "new", "99"), ("p2", "003", "42")}
                      - {("p2", "003", "3"), ("p3", "004", "4")})
        assert after == want
    assert copied == []  # no table was copied whole


def test_a_repeated_key_is_refused_and_nothing_changes(offline_aws, copied):
    moto_transact.install()
    with mock_aws():
        ddb = pk_sk_table(20, 10)
        before = _everything(ddb)
        twice = [{"Put": {"TableName": "t", "Item": {**_key("p5", "001"), "n": {"N": "7"}}}}] * 2
        with pytest.raises(ClientError):
            ddb.transact_write_items(TransactItems=twice)
        assert _everything(ddb) == before
