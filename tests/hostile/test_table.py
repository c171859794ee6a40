"""Every case of the hostile table gets a clear error naming what is wrong, never a traceback."""

from __future__ import annotations

import pytest
from cases import all_cases
from click.testing import CliRunner

from coordinator.cli import main

CASES = all_cases()


@pytest.mark.parametrize("argv, files, fragment", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_case_is_refused_clearly(hostile_env, argv, files, fragment):
    for name, body in files.items():
        path = hostile_env / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    args = [a.replace("{dir}", str(hostile_env)) for a in argv]
    out = CliRunner().invoke(main, args)
    assert out.exception is None or isinstance(out.exception, SystemExit), \
        f"traceback: {out.exception!r}"
    assert out.exit_code != 0, out.output
    assert "Traceback" not in out.output
    assert fragment in out.output, out.output[-2000:]
    assert len(out.output) < 20_000  # a hostile value is never echoed whole


def test_local_up_on_a_busy_port_says_so_and_starts_nothing(hostile_env):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = CliRunner().invoke(main, ["local", "up", "--port", str(port)])
    assert out.exit_code == 2 and "is in use" in out.output
    assert not (hostile_env / "local.json").exists()
