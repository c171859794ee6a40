"""Typed worker errors: each names the field or S3 key at fault, so the coordinator can report why
a worker counted as a straggler for its round (the worker records the error, then raises it)."""

from __future__ import annotations


class WorkerError(ValueError):
    """Base of every error a worker raises for bad input. ``field`` names what was wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class EventError(WorkerError):
    """The invocation event is malformed: a missing key, a wrong type, a value out of range."""


class MissingObjectError(WorkerError):
    """An S3 object the task needs (manifest, partition, parameter vector) does not exist."""


class SchemaMismatchError(WorkerError):
    """A partition's columns, types, checksum or labels disagree with the manifest or the model."""


class ChecksumError(WorkerError):
    """An object's bytes do not hash to the sha256 the job recorded (changed in the bucket)."""


class ParameterError(WorkerError):
    """A parameter vector has the wrong shape, length or dtype, or is not finite."""


class ConfigError(WorkerError):
    """The worker's own configuration (its environment: SGC_BUCKET, SGC_TABLE) is missing/wrong."""


class StorageError(WorkerError):
    """S3 or DynamoDB refused or failed a request (access denied, throttled, unreachable)."""


class ResultError(WorkerError):
    """The computed coded result is not finite (overflow: huge coefficients or parameters)."""
