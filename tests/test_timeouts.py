"""tests/helpers/timeouts.py: timeouts scale with SGC_TEST_TIMEOUT_FACTOR and the machine's load,
waits poll for their condition; and no test sleeps a fixed time or gives a fixed timeout."""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import pytest
import timeouts
from timeouts import holds_for, scaled, wait_for

TESTS = Path(__file__).resolve().parent


def test_the_factor_comes_from_the_environment_and_grows_with_the_load(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("SGC_TEST_TIMEOUT_FACTOR", raising=False)
    assert scaled(10) == 10
    monkeypatch.setenv("SGC_TEST_TIMEOUT_FACTOR", "2.5")
    assert scaled(10) == 25
    monkeypatch.setattr(os, "getloadavg", lambda: (6.0, 5.0, 4.0))  # 3 processes per core
    assert scaled(10) == 75
    monkeypatch.setattr(os, "getloadavg", lambda: (100.0, 5.0, 4.0))
    assert scaled(10) == 25 * timeouts.MAX_LOAD_FACTOR
    for bad in ("0", "-1", "x", "nan"):
        monkeypatch.setenv("SGC_TEST_TIMEOUT_FACTOR", bad)
        with pytest.raises(ValueError, match="SGC_TEST_TIMEOUT_FACTOR: must be a number > 0"):
            scaled(1)


def test_wait_for_returns_the_condition_as_soon_as_it_holds_or_says_what_did_not_happen(
        monkeypatch):
    monkeypatch.setenv("SGC_TEST_TIMEOUT_FACTOR", "1")
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    ready = time.monotonic() + 0.2
    started = time.monotonic()
    assert wait_for(lambda: time.monotonic() >= ready and "yes", 5, "ready") == "yes"
    assert time.monotonic() - started < 2
    with pytest.raises(AssertionError,
                       match=r"timed out after 0.2 s waiting for the snapshot \(0.2 s x 1.00"):
        wait_for(lambda: False, 0.2, "the snapshot")
    holds_for(lambda: True, 0.1, "quiet")
    with pytest.raises(AssertionError, match="no second dispatch"):
        holds_for(lambda: False, 5, "no second dispatch")


def _fixed_waits(path: Path) -> list[str]:
    """Calls in a test module that sleep a fixed time or wait with a literal timeout."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        literal = [k.arg for k in node.keywords if k.arg in ("timeout", "timeout_s")
                   and isinstance(k.value, ast.Constant)]
        if name == "time.sleep" or literal or (
                name.endswith(".wait") and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)):
            found.append(f"{path.relative_to(TESTS)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_test_sleeps_a_fixed_time_or_waits_with_a_literal_timeout():
    """Sleeping for something to happen, or a fixed timeout, fails on a loaded machine: poll
    with wait_for and scale timeouts with scaled() (code inside strings, such as a fake
    server's script, is not a wait of the test; helpers implement the polls)."""
    # Helper modules (timeouts.py itself, the emulator's probe handlers) implement the polls.
    modules = [p for p in TESTS.rglob("*.py") if p.name.startswith("test_")
               or p.name == "conftest.py"]
    assert [line for path in sorted(modules) for line in _fixed_waits(path)] == []
