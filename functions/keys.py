"""Deterministic S3 keys and DynamoDB record keys: re-exported from ``coordinator.contract`` (the
one definition both sides import; kept here so existing imports keep working)."""

from __future__ import annotations

from coordinator.contract.keys import record_keys, result_key

__all__ = ["record_keys", "result_key"]
