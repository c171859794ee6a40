"""One vocabulary across `sgc`: --json everywhere, the trace's options named as such (old
spellings hidden but working), "did you mean", where a job runs without repeating --local,
and a pipe closed early that ends a command quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from timeouts import scaled

from coordinator.cli import main

ROOT = Path(__file__).resolve().parents[3]
SGC = [sys.executable, "-c", "from coordinator.cli import main; main()"]


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No credentials, no emulator, no config file: where a command would run is visible."""
    from coordinator.backends import connect

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "SGC_LOCAL", "SGC_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("SGC_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setattr(connect, "LOCAL_STATE", tmp_path / "local.json")
    return tmp_path


def leaf_commands(command: click.Command, path: tuple[str, ...] = ()):
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            yield from leaf_commands(command.get_command(context, name), (*path, name))
    else:
        yield path, command


def test_every_command_takes_json():
    missing = [" ".join(path) for path, command in leaf_commands(main)
               if not any("--json" in p.opts for p in command.params)]
    assert missing == []


@pytest.mark.parametrize("argv, shown, hidden", [
    (["simulate"], ["--trace-profile", "--trace-region", "--gradients"],
     ["--profile", "--region", "--jobs"]),
    (["replay"], ["--trace-profile", "--trace-region", "--gradients"],
     ["--profile", "--region", "--jobs"]),
    (["bench", "simulate"], ["--gradients"], ["--jobs"]),
    (["bench", "sensitivity"], ["--gradients"], ["--jobs"]),
])
def test_the_trace_options_show_their_new_names_only(argv, shown, hidden):
    out = CliRunner().invoke(main, [*argv, "--help"])
    assert out.exit_code == 0, out.output
    options = [line.split()[0].rstrip(",") for line in out.output.splitlines()
               if line.strip().startswith("--")]
    assert set(shown) <= set(options) and not set(hidden) & set(options)


def test_the_old_spellings_still_work():
    from coordinator.cli.replay import replay
    from coordinator.cli.simulate import simulate

    for command in (simulate, replay):
        old = command.make_context(command.name, ["--profile", "p", "--region", "r",
                                                  "--jobs", "7"]).params
        new = command.make_context(command.name, ["--trace-profile", "p", "--trace-region",
                                                  "r", "--gradients", "7"]).params
        assert (old["profile"], old["region"], old["jobs"]) == ("p", "r", 7) and old == new


@pytest.mark.parametrize("argv, fragment", [
    (["sumbit", "job.yaml"], "did you mean 'submit'"),
    (["simulate", "--schemes", "gcc"], "did you mean 'gc'"),
    (["simulate", "--latency", "quantil"], "did you mean 'quantile'"),
    (["simulate", "--policy", "kofm"], "did you mean 'kofn'"),
    (["data", "prepare", "digit", "--out", "x", "-k", "2"], "did you mean 'digits'"),
])
def test_near_misses_get_a_suggestion(argv, fragment):
    out = CliRunner().invoke(main, argv)
    assert out.exit_code != 0 and fragment in out.output, out.output


def test_sgc_local_and_the_config_file_stand_for_local(nowhere, monkeypatch):
    def jobs(*flags):
        return CliRunner().invoke(main, ["jobs", *flags])

    assert "sgc local up" not in jobs().output  # AWS by default
    monkeypatch.setenv("SGC_LOCAL", "1")
    assert "no local emulator running" in jobs().output
    assert "cannot reach the sgcflow stack on AWS" in jobs("--aws").output
    monkeypatch.setenv("SGC_LOCAL", "maybe")
    out = jobs()
    assert out.exit_code == 1 and "SGC_LOCAL: must be 1 or 0" in out.output
    monkeypatch.delenv("SGC_LOCAL")
    (nowhere / "config.yaml").write_text("local: true\nregion: eu-west-1\n")
    assert "no local emulator running" in jobs().output
    (nowhere / "config.yaml").write_text("locale: true\n")
    out = jobs()
    assert out.exit_code == 1 and "config.yaml: unknown key 'locale'" in out.output
    assert "did you mean 'local'" in out.output
    (nowhere / "config.yaml").write_text("local: sometimes\n")
    assert "local: must be true or false" in jobs().output


def test_a_pipe_closed_early_ends_quietly(tmp_path):
    for argv in (["init", "-"], ["data", "prepare", "digits", "--out", str(tmp_path / "d"),
                                 "-k", "256", "--json"]):
        process = subprocess.Popen([*SGC, *argv], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=ROOT)
        process.stdout.close()  # `| head` that already left
        error = process.stderr.read().decode()
        process.wait(timeout=scaled(120))
        assert "BrokenPipe" not in error and "Traceback" not in error, error
        assert "Exception ignored" not in error, error


def test_init_writes_a_starter_that_validates(nowhere, monkeypatch):
    monkeypatch.chdir(nowhere)
    runner = CliRunner()
    out = runner.invoke(main, ["init"])
    assert out.exit_code == 0 and "sgc validate job.yaml" in out.output, out.output
    text = (nowhere / "job.yaml").read_text()
    assert text.count("#") > 15 and "dataset: {name: digits}" in text
    out = runner.invoke(main, ["validate", "job.yaml"])
    assert out.exit_code == 0 and "job.yaml: valid." in out.output, out.output
    out = runner.invoke(main, ["init"])
    assert out.exit_code == 2 and "exists: pass --force" in out.output
    assert runner.invoke(main, ["init", "--force", "--json"]).output.strip() == \
        '{"path": "job.yaml"}'
    out = runner.invoke(main, ["init", str(nowhere)])
    assert out.exit_code == 2 and "is a folder" in out.output
    assert runner.invoke(main, ["init", "-"]).output == text


def test_validate_reads_the_data_as_submit_does_and_writes_nothing(nowhere):
    (nowhere / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'no' if i % 2 else 'yes'}\n"
                                                       for i in range(20)))
    spec = {"dataset": {"path": str(nowhere / "d.csv"), "label_column": "y"},
            "models": [{"kind": "logreg"}, {"kind": "softmax"}], "iterations": 3,
            "workers": 4, "scheme": {"name": "gc", "s": 1}}
    (nowhere / "job.json").write_text(json.dumps(spec))
    out = CliRunner().invoke(main, ["validate", str(nowhere / "job.json"), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["valid"] and report["spec"]["dataset"]["shape"] == {
        "rows": 20, "features": 2, "classes": 2}
    assert report["estimate"]["rows"] == 20
    assert sorted(p.name for p in nowhere.iterdir()) == ["d.csv", "job.json"]
    spec["dataset"]["label_column"] = "label"
    (nowhere / "job.json").write_text(json.dumps(spec))
    out = CliRunner().invoke(main, ["validate", str(nowhere / "job.json"), "--json"])
    assert out.exit_code == 1
    assert json.loads(out.output)["errors"][0]["field"] == "dataset.label_column"
    spec["dataset"] = {"path": "s3://some-bucket/data"}
    (nowhere / "job.json").write_text(json.dumps(spec))
    out = CliRunner().invoke(main, ["validate", str(nowhere / "job.json")])
    assert out.exit_code == 0 and "on S3: not read" in out.output
