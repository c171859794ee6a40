"""Where a job lives: its record and per-round log in DynamoDB, parameters and results in S3.

Conditional writes make every step safe to run twice: a round's dispatch, collect decision and
update are each written once (``attribute_not_exists``); a second run reads the first one's
record back and does the same thing again with the same inputs. S3 keys are deterministic, and
what goes under them is a pure function of what is already stored, so re-writing is harmless.

Items (table key: string ``pk``, string ``sk``; the workers use the same table):
- job record  ``pk=job#{id}``  ``sk=meta``          status, round, spec, plan, result, error
- round log   ``pk=job#{id}``  ``sk=round#{t:06d}`` dispatch, invoked, collect, update (JSON)
- job index   ``pk=jobs``      ``sk={id}``          created (for ``sgc jobs``)
- worker completion records ``pk={run}#round#{t:06d}`` ``sk=worker#{w:04d}``
  (docs/contracts.md, "Worker")
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from typing import Any

import botocore.session
import numpy as np
from botocore.exceptions import ClientError

from coordinator.contract.keys import completions_partition
from coordinator.workflow import resources

ROUND_FIELDS = ("dispatch", "invoked", "collect", "update")
POOL_CONNECTIONS = 128


class JobNotFound(KeyError):
    """No job with that id in the table."""

    def __str__(self) -> str:
        return f"no job {self.args[0]!r}; `sgc jobs` lists the jobs"


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _encode(value: Any) -> dict:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    return {"S": json.dumps(value, separators=(",", ":"))}


def _decode_item(item: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if "BOOL" in value:
            out[key] = value["BOOL"]
        elif "N" in value:
            number = float(value["N"])
            out[key] = int(number) if number.is_integer() else number
        elif "S" in value:
            text = value["S"]
            out[key] = json.loads(text) if key in _JSON_FIELDS else text
        elif "M" in value:
            out[key] = {k: _decode_item({"v": v})["v"] for k, v in value["M"].items()}
        elif "L" in value:
            out[key] = [_decode_item({"v": v})["v"] for v in value["L"]]
        elif "NULL" in value:
            out[key] = None
    return out


_JSON_FIELDS = {"spec", "plan", "result", "error", "dispatch", "invoked", "collect", "update",
                "progress", "stragglers", "late", "params_sha256", "prior"}


def late_pairs(collected: dict[str, Any]) -> list[list[int]]:
    """A collect record's late results ({"r:w": seconds}) as sorted [round, worker] pairs."""
    return sorted([int(x) for x in key.split(":")] for key in collected.get("late", {}))


class Store:
    """DynamoDB + S3 access for one stack (names from the environment or explicit; credentials
    from ``profile``, else the default chain)."""

    def __init__(self, bucket: str | None = None, table: str | None = None,
                 region: str | None = None, endpoint_url: str | None = None,
                 profile: str | None = None):
        self.bucket = bucket or os.environ.get("SGC_BUCKET", resources.BUCKET)
        self.table = table or os.environ.get("SGC_TABLE", resources.TABLE)
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        from botocore.config import Config

        # Parallel reads and the worker fan-out need more than botocore's 10 pooled connections.
        kwargs: dict[str, Any] = {"region_name": region or "us-east-1",
                                  "config": Config(max_pool_connections=POOL_CONNECTIONS)}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        # A session per store: clients built thread-safely. botocore's own: boto3 adds nothing
        # used here, and importing it (with s3transfer) cost every `sgc` command ~0.3 s.
        self._session = botocore.session.Session(profile=profile)
        self._kwargs = kwargs
        self.ddb = self._session.create_client("dynamodb", **kwargs)
        self._s3: Any = None
        self._s3_lock = threading.Lock()

    @property
    def s3(self):
        """The S3 client, built on first use: loading its service model takes ~0.27 s, which
        `sgc status` and every other command that reads only the table need not pay."""
        if self._s3 is None:
            with self._s3_lock:
                if self._s3 is None:
                    self._s3 = self._session.create_client("s3", **self._kwargs)
        return self._s3

    @s3.setter
    def s3(self, client) -> None:
        self._s3 = client

    # --- job record ----------------------------------------------------------------------------
    def create_job(self, run_id: str, fields: dict[str, Any]) -> bool:
        """Write a new job record; False if it already exists (nothing changed)."""
        item = {"pk": {"S": f"job#{run_id}"}, "sk": {"S": "meta"}}
        item.update({k: _encode(v) for k, v in fields.items()})
        try:
            self.ddb.put_item(TableName=self.table, Item=item,
                              ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        self.ddb.put_item(TableName=self.table, Item={
            "pk": {"S": "jobs"}, "sk": {"S": run_id}, "created": _encode(fields.get("created", 0))})
        return True

    def job(self, run_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.table, ConsistentRead=True,
                                 Key={"pk": {"S": f"job#{run_id}"}, "sk": {"S": "meta"}}
                                 ).get("Item")
        if item is None:
            raise JobNotFound(run_id)
        out = _decode_item(item)
        out["job"] = run_id
        return out

    def update_job(self, run_id: str, fields: dict[str, Any], *,
                   if_round: int | None = None) -> bool:
        """SET fields on the job record; with ``if_round`` only while its round equals it."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _encode(v) for i, v in enumerate(fields.values())}
        kwargs: dict[str, Any] = {}
        if if_round is not None:
            names["#round"] = "round"
            values[":expected"] = {"N": str(if_round)}
            kwargs["ConditionExpression"] = "#round = :expected"
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"pk": {"S": f"job#{run_id}"}, "sk": {"S": "meta"}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ExpressionAttributeNames=names, ExpressionAttributeValues=values, **kwargs)
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def jobs(self) -> list[str]:
        """Every job id, oldest first."""
        items, kwargs = [], {}
        while True:
            page = self.ddb.query(TableName=self.table, KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": {"S": "jobs"}}, **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        items.sort(key=lambda i: (float(i.get("created", {}).get("N", "0")), i["sk"]["S"]))
        return [i["sk"]["S"] for i in items]

    # --- round log -----------------------------------------------------------------------------
    def record_round(self, run_id: str, t: int, field: str, value: Any) -> tuple[bool, Any]:
        """Write ``field`` of round t once. Returns (written, the stored value)."""
        if field not in ROUND_FIELDS:
            raise ValueError(f"round field must be one of {ROUND_FIELDS}, got {field!r}")
        key = {"pk": {"S": f"job#{run_id}"}, "sk": {"S": f"round#{t:06d}"}}
        expression, names, values = "SET #f = :v", {"#f": field}, {":v": _encode(value)}
        if field == "collect":  # compact copies the session replay reads (observations())
            expression += ", #s = :s, #l = :l"
            names["#s"], values[":s"] = "stragglers", _encode(value["stragglers"])
            names["#l"], values[":l"] = "late", _encode(late_pairs(value))
        try:
            self.ddb.update_item(
                TableName=self.table, Key=key, UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(#f)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            return False, self.round(run_id, t)[field]
        return True, value

    def commit_round(self, run_id: str, t: int, fields: dict[str, Any], job_fields: dict[str, Any],
                     next_dispatch: dict[str, Any] | None = None) -> bool:
        """Round t's outcome in one transaction (one call on the round's critical path): its
        ``fields`` (collect, update), the job record's ``job_fields`` (while its round is t - 1)
        and, if given, round t + 1's dispatch record. False if it was already committed."""
        def update(key: dict, values: dict[str, Any], condition: str, extra=None) -> dict:
            names = {f"#f{i}": k for i, k in enumerate(values)}
            encoded = {f":v{i}": _encode(v) for i, v in enumerate(values.values())}
            names.update((extra or {}).get("names", {}))
            encoded.update((extra or {}).get("values", {}))
            return {"Update": {
                "TableName": self.table, "Key": key,
                "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}"
                                                       for i in range(len(values))),
                "ConditionExpression": condition, "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": encoded}}

        fields = dict(fields)
        if "collect" in fields:
            fields["stragglers"] = fields["collect"]["stragglers"]
            fields["late"] = late_pairs(fields["collect"])
        items = [
            update(self._round_key(run_id, t), fields, "attribute_not_exists(#f0)"),
            update({"pk": {"S": f"job#{run_id}"}, "sk": {"S": "meta"}}, job_fields, "#r = :r",
                   {"names": {"#r": "round"}, "values": {":r": {"N": str(t - 1)}}}),
        ]
        if next_dispatch is not None:
            items.append(update(self._round_key(run_id, t + 1), {"dispatch": next_dispatch},
                                "attribute_not_exists(#f0)"))
        try:
            self.ddb.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def forget_dispatch(self, run_id: str, t: int) -> bool:
        """Forget round t's dispatch, so that the next run invokes its workers again: for when
        the invocations themselves were lost (the local emulator restarted, taking them with
        it). A round already collected is left alone. Returns whether it was forgotten."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._round_key(run_id, t),
                UpdateExpression="REMOVE #d, #i",
                ConditionExpression="attribute_exists(#d) AND attribute_not_exists(#c)",
                ExpressionAttributeNames={"#d": "dispatch", "#i": "invoked", "#c": "collect"})
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    @staticmethod
    def _round_key(run_id: str, t: int) -> dict:
        return {"pk": {"S": f"job#{run_id}"}, "sk": {"S": f"round#{t:06d}"}}

    def round(self, run_id: str, t: int) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.table, ConsistentRead=True, Key={
            "pk": {"S": f"job#{run_id}"}, "sk": {"S": f"round#{t:06d}"}}).get("Item")
        return _decode_item(item) if item else {}

    def stragglers(self, run_id: str) -> dict[int, list[int]]:
        """{round: stragglers} of every collected round (small: what a session replay needs)."""
        return {r: s for r, (s, _) in self.observations(run_id).items()}

    def observations(self, run_id: str) -> dict[int, tuple[list[int], list[list[int]]]]:
        """{round: (stragglers, late results [round, worker] it counted)} of every collected
        round: what a session replay needs (older records have no late results)."""
        return {e["round"]: (e["stragglers"], e.get("late", []))
                for e in self.rounds(run_id, only=("stragglers", "late")) if "stragglers" in e}

    def rounds(self, run_id: str, only: str | tuple[str, ...] | None = None
               ) -> list[dict[str, Any]]:
        """The round log in order; each entry has ``round`` plus the fields written so far
        (with ``only``, just that field or those fields)."""
        items, kwargs = [], {}
        if only:
            wanted = (only,) if isinstance(only, str) else only
            kwargs = {"ProjectionExpression": "sk, " + ", ".join(f"#o{i}" for i in
                                                                 range(len(wanted))),
                      "ExpressionAttributeNames": {f"#o{i}": f for i, f in enumerate(wanted)}}
        while True:
            page = self.ddb.query(
                TableName=self.table, ConsistentRead=True,
                KeyConditionExpression="pk = :p AND begins_with(sk, :r)",
                ExpressionAttributeValues={":p": {"S": f"job#{run_id}"}, ":r": {"S": "round#"}},
                **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out = []
        for item in items:
            entry = _decode_item(item)
            entry["round"] = int(entry.pop("sk").split("#")[1])
            entry.pop("pk", None)
            out.append(entry)
        return sorted(out, key=lambda e: e["round"])

    def completion_count(self, run_id: str, t: int) -> int:
        """How many workers wrote a completion record for round t (a small response)."""
        count, kwargs = 0, {}
        while True:
            page = self.ddb.query(TableName=self.table, ConsistentRead=True, Select="COUNT",
                                  KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={
                                      ":p": {"S": completions_partition(run_id, t)}},
                                  **kwargs)
            count += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return count
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def completions(self, run_id: str, t: int) -> dict[int, dict[str, Any]]:
        """Worker completion records of round t: {worker: record}."""
        items, kwargs = [], {}
        while True:
            page = self.ddb.query(TableName=self.table, ConsistentRead=True,
                                  KeyConditionExpression="pk = :p",
                                  ProjectionExpression="sk, #s, error_type, error_message, "
                                                       "timings, checks, sha256, #k",
                                  ExpressionAttributeNames={"#s": "status", "#k": "token"},
                                  ExpressionAttributeValues={
                                      ":p": {"S": completions_partition(run_id, t)}},
                                  **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        out = {}
        for item in items:
            record = _decode_item(item)
            out[int(record["sk"].split("#")[1])] = record
        return out

    # --- S3 ------------------------------------------------------------------------------------
    def put_array(self, key: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())

    def get_array(self, key: str) -> np.ndarray:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return np.load(io.BytesIO(body), allow_pickle=False)

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if missing_object(error):
                return False
            raise
        return True

    def get_bytes(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_versioned(self, key: str) -> tuple[bytes, str | None]:
        """The object's bytes and its S3 version id (None on an unversioned bucket)."""
        answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        version = answer.get("VersionId")
        return answer["Body"].read(), None if version in (None, "null") else version

    def put_bytes(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``, sorted."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                   Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode())

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def now() -> float:
    return time.time()


def missing_object(error: Exception) -> bool:
    """Whether ``error`` says the object is not there: S3's NoSuchKey / 404 (get or head), or
    the in-memory store's KeyError."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return isinstance(error, KeyError) or code in ("NoSuchKey", "404", "NotFound")
