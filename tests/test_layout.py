"""The layout rules of tests/README.md: one name per module, tests that mirror the packages,
and a core that does not depend on the Lambda handlers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from infra.import_closure import imported_names

ROOT = Path(__file__).resolve().parent.parent
# A package's abstract interface may be called base.py in every package.
SHARED_NAMES = {"__init__.py", "base.py", "conftest.py"}
# The core: what a coordinator runs; only the emulator (which runs the handlers) and the
# benchmarks may import functions/.
CORE = ("adaptive", "contract", "control", "policy", "replay", "schemes", "spec", "storage",
        "warmpool", "workflow")


def _modules(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))
            if "__pycache__" not in p.parts]


def _clashes(paths: list[Path]) -> dict[str, list[str]]:
    by_name = defaultdict(list)
    for path in paths:
        if path.name not in SHARED_NAMES:
            by_name[path.name].append(str(path.relative_to(ROOT)))
    return {name: where for name, where in by_name.items() if len(where) > 1}


def test_module_names_are_unique_but_for_cli_commands():
    source = [p for p in _modules("coordinator", "functions")
              if p.parent != ROOT / "coordinator" / "cli"]
    assert _clashes(source) == {}


def test_test_module_names_are_unique():
    assert _clashes(_modules("tests")) == {}


def test_the_core_never_imports_the_handlers():
    paths = [p for package in CORE for p in _modules(f"coordinator/{package}")]
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in imported_names(ROOT, p)
                                                  if n.split(".")[0] == "functions")
                 for p in paths}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_coordinator_keeps_no_loose_modules():
    """Every module sits in the package of its concern (docs/architecture.md)."""
    loose = sorted(p.name for p in (ROOT / "coordinator").glob("*.py"))
    assert loose == ["__init__.py"]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_cycles_inside_a_folder():
    """Inside a folder, imports run one way (shared blocks below, what uses them above), lazy
    imports inside functions included: a cycle means two modules are one idea, or one is
    in the wrong layer."""
    folders = [ROOT / "functions", ROOT / "infra",
               *[p for p in (ROOT / "coordinator").iterdir() if (p / "__init__.py").is_file()]]
    cycles = {}
    for folder in folders:
        modules = {p: f"{folder.relative_to(ROOT).as_posix().replace('/', '.')}.{p.stem}"
                   for p in folder.glob("*.py") if p.name != "__init__.py"}
        names = set(modules.values())
        graph = {name: {n for n in imported_names(ROOT, path) if n in names and n != name}
                 for path, name in modules.items()}
        if found := _cycle(graph):
            cycles[folder.name] = found
    assert cycles == {}
