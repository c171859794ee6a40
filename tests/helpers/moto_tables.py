"""A small moto DynamoDB table with a hash and a range key, filled: what the tests of the
emulator's moto patches (coordinator/emulator/moto_query.py, moto_transact.py) query and write."""

from __future__ import annotations

import boto3


def pk_sk_table(partitions: int, rows: int, name: str = "t"):
    """A client and table ``name``: items (p{i}, {j:03d}) with n = j, for i < partitions and
    j < rows (call inside ``mock_aws``)."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    for p in range(partitions):
        for s in range(rows):
            ddb.put_item(TableName=name, Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"{s:03d}"},
                                               "n": {"N": str(s)}})
    return ddb
