"""Which project files a Lambda can import: the handlers' package plus its import closure.

Why: the function asset used to ship all of ``coordinator/`` (the CLI, the emulator, the
benchmarks, the warm-pool simulators), although a Lambda only runs ``functions/`` and the parts
of ``coordinator/`` those handlers import (the contract, the workflow steps, the warm-pool
driver). The closure is read from the source (every ``import`` statement, also those inside
functions, which a rarely used path may need), so a new import is shipped without editing a list.
"""

from __future__ import annotations

import ast
from pathlib import Path

# The package whose every module is a handler or part of one (all of it ships).
HANDLER_PACKAGE = "functions"
# Project packages the closure follows; anything else (numpy, boto3, ...) comes from the layer.
PROJECT_PACKAGES = ("functions", "coordinator")


def module_file(root: Path, module: str) -> Path | None:
    """``a.b`` -> ``root/a/b.py`` or ``root/a/b/__init__.py``, whichever exists."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(root: Path, path: Path) -> set[str]:
    """Absolute names a module imports; ``from a import b`` yields ``a`` and ``a.b`` (b may be
    a submodule), a relative import is resolved against the module's package."""
    package = _module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[:len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(root: Path, entries: tuple[str, ...] | None = None) -> list[Path]:
    """Every project ``.py`` file the entry modules import, directly or not (themselves
    included), with the ``__init__.py`` of each package on the way (Python runs those on
    import). Without ``entries``: every module of the handler package."""
    if entries is None:
        pending = [p for p in sorted((root / HANDLER_PACKAGE).rglob("*.py"))
                   if "__pycache__" not in p.parts]
    else:
        pending = [found for module in entries for name in _with_parents(module)
                   if (found := module_file(root, name)) is not None]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(root, path):
            if name.split(".")[0] not in PROJECT_PACKAGES:
                continue
            for module in _with_parents(name):
                found = module_file(root, module)
                if found is not None and found not in seen:
                    pending.append(found)
    return sorted(seen)
