"""What the round steps and the workers exchange, in one place both sides import.

- ``keys``: S3 object keys and DynamoDB record keys (deterministic: a re-run writes the same ones);
- ``env``: the environment variable names the Lambda functions read;
- ``records``: the worker invocation event and the completion record a worker writes.

Pure (no boto3, numpy or Numba): ``functions/`` imports it without pulling in the coordinator.
docs/contracts.md describes the same shapes for a reader.
"""

from __future__ import annotations

from . import env, keys, records

__all__ = ["env", "keys", "records"]
