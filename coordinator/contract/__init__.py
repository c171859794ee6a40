"""What the coordinator and the Lambda functions both rely on, written once.

- ``keys``: S3 object keys and DynamoDB record keys (deterministic: a re-run writes the same ones);
- ``env``: the environment variable names the Lambda functions read;
- ``records``: the worker invocation event and the completion record a worker writes;
- ``models``, ``errors``, ``datasets``, ``gradients``: model specs, the errors workers report,
  the dataset layout and the reference gradients.

``keys``, ``env`` and ``records`` are pure Python: ``functions/`` imports them without pulling in
the coordinator. docs/contracts.md describes the same shapes for a reader.
"""

from __future__ import annotations

from . import env, keys, records

__all__ = ["env", "keys", "records"]
