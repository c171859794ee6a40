"""hypothesis against the parsers and the CLI: any input gets a value or a clear error, never an
unexpected exception, a traceback or a huge message.

Properties (examples each, see ``EXAMPLES``): job specs with any JSON-like value in any field;
random bytes as YAML and as JSON files; worker events with any value in any field; `sgc`
command lines drawn from every job command and `data prepare` with hostile option values.
"""

from __future__ import annotations

import json
import string

import pytest
from cases import GOOD
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.cli import main
from coordinator.spec import safeload
from coordinator.spec.jobspec import JobSpecError, validate

EXAMPLES = {"spec": 400, "bytes": 300, "worker": 300, "cli": 150}
FIELDS = ["name", "dataset", "models", "iterations", "workers", "scheme", "wait", "stragglers",
          "faults", "region", "regions", "dataset.name", "dataset.rows", "dataset.classes",
          "models.0", "models.0.lr", "models.0.kind", "models.0.seed", "models.1.hidden",
          "scheme.name", "scheme.B", "scheme.lam", "wait.deadline_s", "wait.mu",
          "wait.hard_limit_s", "stragglers.model", "stragglers.p", "stragglers.B",
          "stragglers.seed", "stragglers.rounds", "stragglers.delay_s", "faults.0",
          "faults.0.round", "faults.0.worker", "faults.0.kind"]
BASE = {**GOOD, "models": [{"kind": "softmax", "lr": 0.5}, {"kind": "mlp", "hidden": 4}],
        "stragglers": {"model": "iid", "p": 0.1, "seed": 1},
        "faults": [{"round": 1, "worker": 0, "kind": "raise"}]}

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(["", "..", "../x", "us-east-1", "m-sgc", "bursty", "iid", "mlp",
                              "digits", "synthetic", "\x00", "a" * 300, "1e400"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8) | st.sampled_from(
                          ["kind", "lr", "name", "model", "p", "B", "W", "lam", "round"]),
                          inner, max_size=5), max_leaves=20)


def _set(spec: dict, path: str, value) -> dict:
    data = json.loads(json.dumps(spec))
    *parents, leaf = path.split(".")
    node = data
    for depth, part in enumerate([*parents, leaf]):
        if isinstance(node, list) and not (part.isdigit() and int(part) < len(node)):
            return data  # the path no longer exists in this spec: nothing to change
        if not isinstance(node, dict | list):
            return data
        if depth == len(parents):
            break
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return data


@settings(max_examples=EXAMPLES["spec"], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=4))
def test_any_value_in_any_field_is_validated_or_refused_with_its_path(changes):
    spec = BASE
    for path, value in changes:
        spec = _set(spec, path, value)
    try:
        validate(spec)
    except JobSpecError as error:
        assert error.errors and all(isinstance(f, str) and m for f, m in error.errors)
        assert len(str(error)) < 20_000


@settings(max_examples=EXAMPLES["bytes"], deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet=string.printable + "&*!|>-[]{}:#'\"é\x00",
                                         max_size=400).map(str.encode),
       st.booleans())
def test_any_bytes_parse_or_give_a_load_error(data, as_json):
    try:
        safeload.load_bytes(data, json_format=as_json)
    except safeload.LoadError as error:
        assert len(str(error)) < 1000


@settings(max_examples=EXAMPLES["worker"], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(
    ["run", "round", "worker", "bucket", "tasks", "tasks.0", "tasks.0.job", "tasks.0.model",
     "tasks.0.params_key", "tasks.0.dataset", "tasks.0.coefficients", "tasks.0.model.kind",
     "tasks.0.model.n_features", "tasks.0.manifest_sha256", "tasks.0.coefficients.0"]),
    values), min_size=1, max_size=3))
def test_any_worker_event_is_parsed_or_refused_with_a_typed_error(changes):
    from coordinator.contract import errors
    from functions import worker

    event = {"run": "run-1", "round": 1, "worker": 0, "tasks": [
        {"job": 1, "model": {"kind": "softmax", "n_features": 4, "n_classes": 3},
         "params_key": "runs/run-1/params/job-000001.npy", "dataset": "datasets/x",
         "coefficients": {"0": 1.0}}]}
    for path, value in changes:
        event = _set(event, path, value)
    try:
        worker._identity(event)
        worker._tasks(event)
    except errors.WorkerError as error:
        assert error.field and len(str(error)) < 5000


OPTIONS = {
    "--sizes": ["nan,0.5,0.5", "0.5,0.5", "inf", "-1,2", "a", "", ",", "1e-400,1", "0.5;0.5"],
    "-k": ["0", "-1", "3", "1e9", "x", "100001", "99999999999999999999"],
    "--scheme": ["m-sgc:n=8,B=1,W=2,lam=2", "gc:n=4,s=9", ":", "zzz", "gc:n=x", "gc:s=-1",
                 "m-sgc:n=1000,B=1,W=2,lam=999"],
    "--rows": ["-5", "0", "nan", "64", "1e12"],
    "--features": ["0", "3", "x"],
    "--classes": ["1", "2", "99999999"],
    "--seed": ["-1", "7", "18446744073709551616"],
    "--label-column": ["label", "nope", "", "a,a"],
}
SOURCES = ["synthetic", "digits-parity", "{dir}/src.csv", "{dir}/none.csv", "{dir}", "",
           "/dev/null", "imagenet"]
JOB_COMMANDS = ["status", "result", "logs", "cancel", "resume", "watch", "jobs"]
JOB_IDS = ["run-x", "", "../../etc", "a" * 5000, "\u202e", "-", "--json"]


@st.composite
def command_lines(draw) -> list[str]:
    if draw(st.booleans()):
        argv = ["data", "prepare", draw(st.sampled_from(SOURCES)), "--out",
                draw(st.sampled_from(["{dir}/out", "/proc/x", "{dir}/src.csv", ""]))]
        for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=3, unique=True)):
            argv += [option, draw(st.sampled_from(OPTIONS[option]))]
        return argv
    command = draw(st.sampled_from(JOB_COMMANDS))
    argv = [command] if command == "jobs" else [command, draw(st.sampled_from(JOB_IDS))]
    extra = ["--local", "--json", "--now", "--watch", "--region", "us-east-1", "--profile",
             "nope", "--bogus"]
    return argv + draw(st.lists(st.sampled_from(extra), max_size=3))


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-cli")
    (folder / "src.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                                           for i in range(40)))
    return folder


@settings(max_examples=EXAMPLES["cli"], deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_any_command_line_answers_without_a_traceback(hostile_env, source_dir, monkeypatch, argv):
    monkeypatch.chdir(source_dir)  # a relative --out never lands in the repository
    args = [a.replace("{dir}", str(source_dir)) for a in argv]
    out = CliRunner().invoke(main, args)
    assert out.exception is None or isinstance(out.exception, SystemExit), \
        f"{args}: {out.exception!r}"
    assert out.exit_code in (0, 1, 2), out.output
    assert "Traceback" not in out.output
