"""Typed worker errors: each names the field or S3 key at fault, so the coordinator can report why
a worker counted as a straggler for its round (the worker records the error, then raises it)."""

from __future__ import annotations

# The longest field name and message an error keeps: a message quotes what it refuses, and a
# hostile value (a 200 KB string in an event or a job spec) must not be echoed whole into
# records, logs and terminals.
MAX_FIELD_CHARS = 160
MAX_MESSAGE_CHARS = 500


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` if short, else its head and tail around a note of how much was cut (the tail of
    a message usually says what is allowed)."""
    text = str(text)
    if len(text) <= limit:
        return text
    marker = f"... [{len(text)} characters, cut] ..."
    keep = max(0, limit - len(marker))
    head = keep * 3 // 4
    return f"{text[:head]}{marker}{text[len(text) - (keep - head):]}"


class WorkerError(ValueError):
    """Base of every error a worker raises for bad input. ``field`` names what was wrong; both
    are cut to a bounded length (``shorten``), whatever value the message quotes."""

    def __init__(self, field: str, message: str):
        field = shorten(field, MAX_FIELD_CHARS)
        super().__init__(f"{field}: {shorten(message)}")
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
