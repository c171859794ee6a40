"""Read a YAML or JSON file that a hostile user may have written, with hard limits.

Limits are checked before any object is built, so a hostile file costs at most a bounded scan:

- size: at most ``MAX_BYTES`` (1 MiB) and valid UTF-8;
- nesting: at most ``MAX_DEPTH`` (32) levels of mappings/lists;
- YAML aliases: at most ``MAX_ALIASES`` (64), and the document *as expanded* (every alias counted
  as a copy of its anchor) holds at most ``MAX_NODES`` (100,000) nodes. A "billion laughs" bomb
  is refused from its event stream, before PyYAML builds anything.

JSON is scanned for depth without recursion (``json.loads`` recurses and would raise
RecursionError at about 1,000 levels). Every failure is a ``LoadError`` with a one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 100_000


class LoadError(ValueError):
    """The file cannot be read as a bounded YAML/JSON document; the message says why."""


def load_file(path: str | Path) -> Any:
    """The document in ``path`` (JSON if it ends in .json, else YAML), within the limits."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror or error}") from None
    return load_bytes(data, json_format=path.suffix == ".json", name=str(path))


def load_bytes(data: bytes, *, json_format: bool = False, name: str = "input") -> Any:
    """Parse bytes as JSON or YAML within the limits; see the module docstring."""
    if len(data) > MAX_BYTES:
        raise LoadError(f"{name} is larger than {MAX_BYTES} bytes (the limit for a spec file)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LoadError(f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                        f"{error.start})") from None
    if "\x00" in text:
        raise LoadError(f"{name} contains a NUL character (not a text file)")
    return _load_json(text, name) if json_format else _load_yaml(text, name)


def _load_json(text: str, name: str) -> Any:
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise LoadError(f"{name} nests {depth} levels deep; the limit is {MAX_DEPTH}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, too many digits, NaN
        raise LoadError(f"{name} is not valid JSON: {_short(error)}") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (every number must be finite)")


def _json_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _load_yaml(text: str, name: str) -> Any:
    try:
        _check_yaml_events(text, name)
        return yaml.safe_load(text)
    except LoadError:
        raise
    except yaml.YAMLError as error:
        raise LoadError(f"{name} is not valid YAML: {_short(error)}") from None
    except (ValueError, RecursionError) as error:  # e.g. an integer with too many digits
        raise LoadError(f"{name} is not valid YAML: {_short(error)}") from None


def _check_yaml_events(text: str, name: str) -> None:
    """Walk the event stream (nothing is built): depth, alias count, expanded node count."""
    depth = nodes = aliases = 0
    anchors: dict[str, int] = {}  # anchor -> expanded node count of its node
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, node count when it started)
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise LoadError(f"{name} uses more than {MAX_ALIASES} YAML aliases")
            if event.anchor not in anchors:
                raise LoadError(f"{name}: alias *{event.anchor} refers to no finished anchor")
            nodes += anchors[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise LoadError(f"{name} nests deeper than {MAX_DEPTH} levels")
            nodes += 1
            open_nodes.append((event.anchor, nodes - 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_nodes.pop()
            if anchor:
                anchors[anchor] = nodes - start
        if nodes > MAX_NODES:
            raise LoadError(f"{name} expands to more than {MAX_NODES} values (YAML aliases "
                            "multiply what they point to); write the values out instead")


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + "..."
