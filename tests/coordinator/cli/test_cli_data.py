"""`sgc data prepare`: writes partitions + manifest; errors name the field and exit non-zero."""

from __future__ import annotations

import json

from click.testing import CliRunner

from coordinator.cli.data import data


def test_prepare_equal_and_scheme_sized(tmp_path):
    runner = CliRunner()
    done = runner.invoke(data, ["prepare", "digits", "--out", str(tmp_path / "d"), "-k", "256"])
    assert done.exit_code == 0, done.output
    assert "1797 rows x 64 features, 10 classes -> 256 partitions (7..8 rows)" in done.output
    done = runner.invoke(data, ["prepare", "synthetic", "--rows", "1000", "--features", "4",
                                "--out", str(tmp_path / "s"), "--scheme", "gc:n=8,s=1", "--json"])
    assert done.exit_code == 0, done.output
    manifest = json.loads(done.output)
    assert [p["rows"] for p in manifest["partitions"]] == [125] * 8
    assert manifest["optimum"]["model"] == {"kind": "logreg", "n_features": 4, "n_classes": 2}
    on_disk = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert on_disk["partitions"] == manifest["partitions"]


def test_errors_name_the_field(tmp_path):
    runner = CliRunner()
    done = runner.invoke(data, ["prepare", "digits", "--out", str(tmp_path), "-k", "5000"])
    assert done.exit_code == 1 and "Error: k: 5000 partitions but only 1797 rows" in done.output
    done = runner.invoke(data, ["prepare", "cifar", "--out", str(tmp_path), "-k", "2"])
    assert done.exit_code == 1 and "Error: dataset: unknown 'cifar'" in done.output
    done = runner.invoke(data, ["prepare", "digits", "--out", str(tmp_path),
                                "--sizes", "0.5,0.4"])
    assert done.exit_code == 1 and "Error: sizes: fractions must sum to 1" in done.output
    assert not (tmp_path / "manifest.json").exists()


def test_empty_partitions_and_one_class_labels_are_refused_before_anything_is_written(tmp_path):
    runner = CliRunner()
    out = tmp_path / "o"
    done = runner.invoke(data, ["prepare", "synthetic", "--rows", "256", "--features", "3",
                                "--out", str(out), "--sizes", "0.001,0.999"])
    assert done.exit_code == 1
    assert "Error: --sizes: 1 of 2 partitions would get no row of the 256 (partition 0)" \
        in done.output
    many = ",".join(["0.0001"] * 10_000)
    done = runner.invoke(data, ["prepare", "digits", "--out", str(out), "--sizes", many])
    assert done.exit_code == 1 and "partitions would get no row of the 1797" in done.output
    done = runner.invoke(data, ["prepare", "synthetic", "--rows", "1000", "--features", "3",
                                "--out", str(out), "--scheme", "m-sgc:n=256,B=1,W=2,lam=27"])
    assert done.exit_code == 1 and "Error: --scheme: " in done.output
    (tmp_path / "one.csv").write_text("a,label\n1,1\n2,1\n3,1\n")
    done = runner.invoke(data, ["prepare", str(tmp_path / "one.csv"), "--out", str(out), "-k",
                                "2"])
    assert done.exit_code == 1
    assert "Error: --label-column label: every row has class 1: training needs labels of at " \
           "least two classes" in done.output
    assert not out.exists()


def test_prepare_encodes_string_labels_and_standardizes(tmp_path):
    (tmp_path / "p.csv").write_text("a,b,diagnosis\n1,5,benign\n2,6,malignant\n3,7,benign\n"
                                    "4,9,malignant\n")
    runner = CliRunner()
    done = runner.invoke(data, ["prepare", str(tmp_path / "p.csv"), "--label-column",
                                "diagnosis", "--standardize", "--out", str(tmp_path / "o"),
                                "-k", "2"])
    assert done.exit_code == 0, done.output
    assert "standardized, 2 classes (benign, malignant) -> 2 partitions" in done.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["labels"] == ["benign", "malignant"]
    assert manifest["standardize"]["mean"] == [2.5, 6.75]
    done = runner.invoke(data, ["prepare", str(tmp_path / "o"), "--out", str(tmp_path / "o1"),
                                "-k", "1", "--json"])  # a prepared folder, cut again
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["labels"] == ["benign", "malignant"]
    done = runner.invoke(data, ["prepare", str(tmp_path / "p.csv"), "--out", str(tmp_path),
                                "--label-column", "", "-k", "1"])
    assert done.exit_code == 2 and "--label-column" in done.output
