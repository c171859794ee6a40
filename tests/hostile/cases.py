"""The table of hostile inputs: what a hostile or careless user tries, and what must come back.

Each case is (id, argv, files, fragment): ``files`` maps a name to the bytes written in the test's
folder (``{dir}`` in argv is that folder); the command must exit non-zero with ``fragment`` in its
output and no traceback. No case needs AWS credentials or a running emulator.
"""

from __future__ import annotations

import json

GOOD = {"name": "t", "dataset": {"name": "synthetic", "rows": 512, "features": 4, "classes": 3},
        "models": [{"kind": "softmax", "lr": 0.5}, {"kind": "logreg"}], "iterations": 2,
        "workers": 8, "scheme": {"name": "m-sgc", "B": 1, "W": 2, "lam": 2},
        "wait": {"deadline_s": 2.0}}


def spec(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def nested(path: str, value) -> bytes:
    """GOOD with one nested field (dotted path) replaced."""
    data = json.loads(json.dumps(GOOD))
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return json.dumps(data).encode()


def huge(path: str, literal: str = "1e400") -> bytes:
    """GOOD with a nested field set to a JSON number literal (1e400 parses as inf)."""
    return nested(path, "__NUMBER__").replace(b'"__NUMBER__"', literal.encode())


def _bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for i in range(8):
        name = chr(ord("b") + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    lines.append(f"workers: *{previous}")
    return ("\n".join(lines) + "\n").encode()


def _npz(**arrays) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npz_declaring(shape: tuple) -> bytes:
    """A .npz whose X header declares ``shape`` with no data behind it (a decompression bomb's
    promise)."""
    import io
    import zipfile

    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.npy", header.getvalue())
        archive.writestr("y.npy", b"")
    return buffer.getvalue()


def cnn(**fields) -> dict:
    return {"kind": "cnn", "input": [1, 2, 2], "conv": [[4, 3]], **fields}


SUBMIT = ["submit", "{dir}/job.json"]
SUBMIT_YAML = ["submit", "{dir}/job.yaml"]
BAD_SPECS = [
    # numbers: finite and bounded
    ("deadline-inf", huge("wait.deadline_s"), "wait.deadline_s"),
    ("deadline-minus-inf", huge("wait.deadline_s", "-1e400"), "wait.deadline_s"),
    ("lr-inf", huge("models.0.lr"), "models[0].lr"),
    ("deadline-huge", nested("wait.deadline_s", 1e9), "wait.deadline_s"),
    ("lr-huge", nested("models.0.lr", 1e300), "models[0].lr"),
    ("lr-negative", nested("models.0.lr", -1), "models[0].lr"),
    ("rows-1e10", nested("dataset.rows", 10**10), "dataset.rows"),
    ("features-1e8", nested("dataset.features", 10**8), "dataset.features"),
    ("classes-1e8", nested("dataset.classes", 10**8), "dataset.classes"),
    ("iterations-1e12", spec(iterations=10**12), "iterations"),
    ("iterations-float", spec(iterations=2.5), "iterations"),
    ("iterations-bool", spec(iterations=True), "iterations"),
    ("workers-zero", spec(workers=0), "workers"),
    ("workers-string", spec(workers="256"), "workers"),
    ("seed-negative", nested("models.0.seed", -1), "models[0].seed"),
    ("seed-2^64", nested("models.0.seed", 2**64), "models[0].seed"),
    ("hidden-huge", spec(models=[{"kind": "mlp", "hidden": 10**9}, {"kind": "logreg"}]),
     "models[0].hidden"),
    ("models-1000", spec(models=[{"kind": "logreg"}] * 1000), "models"),
    # cnn models: every bound before any work
    ("cnn-kernel-even", spec(models=[cnn(conv=[[4, 4]])]), "models[0].conv[0][1]"),
    ("cnn-channels-huge", spec(models=[cnn(conv=[[10**9, 3]])]), "models[0].conv[0][0]"),
    ("cnn-layers-many", spec(models=[cnn(conv=[[2, 3]] * 100)]), "models[0].conv"),
    ("cnn-input-huge", spec(models=[cnn(input=[1, 10**6, 10**6])]), "models[0].input[1]"),
    ("cnn-input-not-a-list", spec(models=[cnn(input="1x2x2")]), "models[0].input"),
    ("cnn-input-vs-dataset", spec(models=[cnn(input=[1, 3, 3]), {"kind": "logreg"}]),
     "models[0].input"),
    ("cnn-pool-three", spec(models=[cnn(pool=3)]), "models[0].pool"),
    ("cnn-pooled-away", spec(models=[cnn(conv=[[2, 3], [2, 3]])]), "models[0].conv[1]"),
    ("cnn-columns-huge", spec(models=[cnn(input=[1024, 32, 32], conv=[[1024, 7]] * 2)]),
     "models[0].conv"),
    ("cnn-conv-on-mlp", spec(models=[{"kind": "mlp", "conv": [[2, 3]]}]), "models[0].conv"),
    ("scheme-param-huge", spec(scheme={"name": "sr-sgc", "B": 1, "W": 10**9, "lam": 3}),
     "scheme.W"),
    ("scheme-param-string", spec(scheme={"name": "gc", "s": "1"}), "scheme.s"),
    ("scheme-unknown-param", spec(scheme={"name": "gc", "s": 1, "x": 1}), "scheme"),
    # resource estimate: every field in range, the whole does not fit
    ("memory-estimate", nested("dataset", {"name": "synthetic", "rows": 10**8,
                                           "features": 10**6, "classes": 10**5}), "GiB"),
    ("params-estimate", spec(dataset={"name": "synthetic", "rows": 1000, "features": 100_000,
                                      "classes": 5000}), "parameters"),
    ("rounds-cap", spec(models=[{"kind": "logreg"}] * 64, iterations=100_000), "rounds"),
    # strings
    ("name-mapping", spec(name={"a": 1}), "name"),
    ("name-shell", spec(name="x; rm -rf /"), "name"),
    ("name-long", spec(name="a" * 10_000), "name"),
    ("region-shell", spec(region="a-b-c; rm -rf /"), "region"),
    ("region-upper", spec(region="US-EAST-1"), "region"),
    ("regions-empty", spec(regions=[]), "regions"),
    ("dataset-nul", nested("dataset.name", "digits\u0000"), "dataset.name"),
    # full-string matches: "$" also matches before a trailing newline
    ("name-newline", spec(name="t\n"), "name: must be"),
    ("region-newline", spec(region="us-east-1\n"), "region: must be"),
    # a huge value is cut in the error, whichever check quotes it (output < 20,000 characters)
    ("clock-200kb", nested("wait.clock", "x" * 200_000), "wait.clock"),
    ("activation-200kb", spec(models=[{"kind": "mlp", "activation": "x" * 200_000},
                                      {"kind": "logreg"}]), "models[0].activation"),
    ("policy-200kb", spec(wait={"policy": "x" * 200_000}), "characters, cut"),
    ("stragglers-rounds-unicode-digit",
     spec(stragglers={"model": "fixed", "rounds": {"\u0663": [1]}}),
     "round numbers must be integers"),
    ("dataset-name-typo", nested("dataset.name", "digitz"), "did you mean 'digits'"),
    ("dataset-name-is-a-file", nested("dataset.name", "data/my.csv"), "dataset.path"),
    ("dataset-path-missing", spec(dataset={"path": "/no/such/data.csv"}), "dataset.path"),
    ("dataset-path-npy", spec(dataset={"path": "/no/such/data.npy"}), "dataset.path"),
    ("dataset-path-type", spec(dataset={"path": ["x"]}), "dataset.path"),
    ("dataset-path-nul", spec(dataset={"path": "a\u0000b.csv"}), "dataset.path"),
    ("dataset-path-s3-garbage", spec(dataset={"path": "s3://"}), "dataset.path"),
    ("dataset-path-and-name", spec(dataset={"path": "s3://b/x", "name": "digits"}), "dataset"),
    ("dataset-standardize-string", spec(dataset={"path": "s3://bkt/x", "standardize": "yes"}),
     "dataset.standardize"),
    ("dataset-label-column-number", spec(dataset={"path": "s3://bkt/x", "label_column": 5}),
     "dataset.label_column"),
    ("dataset-digest-short", spec(dataset={"path": "s3://bkt/x", "manifest_sha256": "ab"}),
     "dataset.manifest_sha256"),
    ("dataset-shape-huge", spec(dataset={"path": "s3://bkt/x", "shape": {
        "rows": 10**12, "features": 1, "classes": 2}}), "dataset.shape.rows"),
    ("kind-typo", spec(models=[{"kind": "sofmax"}, {"kind": "logreg"}]),
     "did you mean 'softmax'"),
    # stragglers, faults, wait: field paths
    ("stragglers-B-string", spec(stragglers={"model": "bursty", "B": "x", "W": 2, "lam": 2}),
     "stragglers.B"),
    ("stragglers-iid-p2", spec(stragglers={"model": "iid", "p": 2}), "stragglers.p"),
    ("stragglers-p-nan", b'{"stragglers": {"model": "iid", "p": NaN}}', "NaN"),
    ("stragglers-seed-negative", spec(stragglers={"model": "iid", "p": 0.1, "seed": -1}),
     "stragglers.seed"),
    ("stragglers-rate", spec(stragglers={"model": "bursty", "B": 1, "W": 2, "lam": 2,
                                         "rate": 5}), "stragglers.rate"),
    ("stragglers-lam-too-big", spec(stragglers={"model": "bursty", "B": 1, "W": 2, "lam": 99}),
     "stragglers.lam"),
    ("stragglers-unused-key", spec(stragglers={"model": "iid", "p": 0.1, "B": 1}),
     "stragglers.B"),
    ("stragglers-delay-inf", huge("stragglers", '{"model": "none", "delay_s": 1e400}'),
     "stragglers.delay_s"),
    ("stragglers-rounds-worker", spec(stragglers={"model": "fixed", "rounds": {"2": [99]}}),
     "stragglers.rounds.2"),
    ("stragglers-rounds-round", spec(stragglers={"model": "fixed", "rounds": {"-1": [1]}}),
     "stragglers.rounds.-1"),
    ("stragglers-trace-type", spec(stragglers={"trace": ["x"]}), "stragglers.trace"),
    ("faults-many", spec(faults=[{"round": 1, "worker": 0}] * 20_000), "faults"),
    ("faults-round", spec(faults=[{"round": 10**9, "worker": 0}]), "faults[0].round"),
    ("wait-mu-inf", huge("wait", '{"mu": 1e400}'), "wait.mu"),
    ("wait-hard-limit", nested("wait.hard_limit_s", 1e9), "wait.hard_limit_s"),
    ("top-level-list", b"[1, 2, 3]", "(top level)"),
    ("top-level-string", b'"job"', "(top level)"),
    ("unknown-key", spec(colour="red"), "(top level).colour"),
    ("json-inf-literal", b'{"iterations": Infinity}', "Infinity"),
    ("json-huge-int", b'{"iterations": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ("json-deep", b'{"a": ' + b"[" * 20000 + b"]" * 20000 + b"}", "nests"),
    ("json-truncated", b'{"models": [', "not valid JSON"),
    ("json-not-utf8", b'{"name": "caf\xe9"}', "not UTF-8"),
    ("json-nul", b'{"name": "a\x00"}', "NUL"),
    ("json-too-big", b'{"name": "' + b"a" * (2 << 20) + b'"}', "larger than"),
]
BAD_YAML = [
    ("yaml-bomb", _bomb(), "expands to more than"),
    ("yaml-deep", b"a: " + b"[" * 20000 + b"]" * 20000 + b"\n", "nests deeper"),
    ("yaml-not-utf8", "name: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ("yaml-tab-error", b"models:\n\t- kind: x\n", "not valid YAML"),
    ("yaml-python-tag", b"name: !!python/object/apply:os.system ['echo hi']\n",
     "not valid YAML"),
    ("yaml-binary", b"name: !!binary aGVsbG8=\n", "name"),
    ("yaml-timestamp", b"name: 2001-12-14\n", "name"),
    ("yaml-dot-inf", b"models: [{kind: softmax, lr: .inf}, {kind: logreg}]\n", "models[0].lr"),
    ("yaml-dot-nan", b"wait: {deadline_s: .nan}\n", "wait.deadline_s"),
    ("yaml-many-aliases", b"a: &a 1\nb: [" + b",".join([b"*a"] * 100) + b"]\n", "aliases"),
    ("yaml-undefined-alias", b"a: *nope\n", "alias"),
    ("yaml-empty", b"", "(top level)"),
    ("yaml-huge-int", b"iterations: " + b"9" * 5000 + b"\n", "YAML"),
]

CLI = [
    # data prepare
    ("prepare-sizes-nan", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--sizes",
                           "nan,0.5,0.5"], {}, "--sizes"),
    ("prepare-sizes-inf", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--sizes",
                           "inf,-inf"], {}, "--sizes"),
    ("prepare-sizes-over-one", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--sizes",
                                "1e308,1e308"], {}, "--sizes"),
    ("prepare-sizes-text", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--sizes",
                            "a,b"], {}, "--sizes"),
    ("prepare-sizes-sum", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--sizes",
                           "0.3,0.3"], {}, "sum to 1"),
    ("prepare-labels-2e9", ["data", "prepare", "{dir}/big.csv", "--out", "{dir}/o", "-k", "1"],
     {"big.csv": b"a,label\n1,0\n2,2000000000\n"}, "classes"),
    ("prepare-labels-negative", ["data", "prepare", "{dir}/neg.csv", "--out", "{dir}/o", "-k",
                                 "1"], {"neg.csv": b"a,label\n1,0\n2,-1\n"}, "class indices"),
    ("prepare-duplicate-column", ["data", "prepare", "{dir}/dup.csv", "--out", "{dir}/o", "-k",
                                  "1"], {"dup.csv": b"a,a,label\n1,2,0\n3,4,1\n"}, "unique"),
    ("prepare-zero-rows", ["data", "prepare", "{dir}/empty.csv", "--out", "{dir}/o", "--sizes",
                           "0.5,0.5"], {"empty.csv": b"a,label\n"}, "no row"),
    ("prepare-out-proc", ["data", "prepare", "synthetic", "--rows", "64", "--out", "/proc/x",
                          "-k", "2"], {}, "cannot write"),
    ("prepare-out-is-file", ["data", "prepare", "synthetic", "--rows", "64", "--out",
                             "{dir}/file", "-k", "2"], {"file": b"x"}, "cannot write"),
    ("prepare-corrupt-parquet", ["data", "prepare", "{dir}/bad.parquet", "--out", "{dir}/o",
                                 "-k", "1"], {"bad.parquet": b"PAR1garbage"}, "cannot read"),
    ("prepare-text-column", ["data", "prepare", "{dir}/t.csv", "--out", "{dir}/o", "-k", "1"],
     {"t.csv": b"a,label\nx,0\ny,1\n"}, "non-numeric"),
    ("prepare-nan-feature", ["data", "prepare", "{dir}/n.csv", "--out", "{dir}/o", "-k", "1"],
     {"n.csv": b"a,label\nnan,0\n1,1\n"}, "NaN"),
    ("prepare-no-label", ["data", "prepare", "{dir}/l.csv", "--out", "{dir}/o", "-k", "1"],
     {"l.csv": b"a,b\n1,0\n"}, "label"),
    ("prepare-sizes-empty-partition", ["data", "prepare", "synthetic", "--rows", "256",
                                       "--features", "3", "--out", "{dir}/o", "--sizes",
                                       "0.001,0.999"], {}, "--sizes: 1 of 2 partitions"),
    ("prepare-sizes-10000", ["data", "prepare", "digits", "--out", "{dir}/o", "--sizes",
                             ",".join(["0.0001"] * 10_000)], {}, "partitions would get no row"),
    ("prepare-one-class", ["data", "prepare", "{dir}/one.csv", "--out", "{dir}/o", "-k", "2"],
     {"one.csv": b"a,label\n1,0\n2,0\n3,0\n"}, "at least two classes"),
    ("prepare-synthetic-one-row", ["data", "prepare", "synthetic", "--rows", "1", "--features",
                                   "2", "--out", "{dir}/o", "-k", "1"], {}, "--rows"),
    ("prepare-scheme-unicode-digit", ["data", "prepare", "synthetic", "--out", "{dir}/o",
                                      "--scheme", "gc:n=\u0668,s=1"], {}, "--scheme"),
    ("prepare-npz-garbage", ["data", "prepare", "{dir}/g.npz", "--out", "{dir}/o", "-k", "1"],
     {"g.npz": b"PK\x03\x04garbage"}, "cannot read"),
    ("prepare-npz-no-y", ["data", "prepare", "{dir}/x.npz", "--out", "{dir}/o", "-k", "1"],
     {"x.npz": _npz(X=[[[0.0]]])}, "y: missing"),
    ("prepare-npz-flat-x", ["data", "prepare", "{dir}/f.npz", "--out", "{dir}/o", "-k", "1"],
     {"f.npz": _npz(X=[0.0, 1.0], y=[0])}, "X: shape (2,)"),
    ("prepare-npz-bomb", ["data", "prepare", "{dir}/b.npz", "--out", "{dir}/o", "-k", "1"],
     {"b.npz": _npz_declaring((10**9, 3, 1024, 1024))}, "X: truncated"),
    ("prepare-npz-object", ["data", "prepare", "{dir}/o.npz", "--out", "{dir}/o", "-k", "1"],
     {"o.npz": _npz(X=[[["a"]]], y=[0])}, "X: dtype"),
    ("prepare-npz-labels", ["data", "prepare", "{dir}/l.npz", "--out", "{dir}/o", "-k", "1"],
     {"l.npz": _npz(X=[[[0.0]], [[1.0]]], y=[0.5, 1])}, "y: labels"),
    ("prepare-k-zero", ["data", "prepare", "synthetic", "--out", "{dir}/o", "-k", "0"], {},
     "-k"),
    ("prepare-k-more-than-rows", ["data", "prepare", "synthetic", "--rows", "4", "--out",
                                  "{dir}/o", "-k", "9"], {}, "only 4 rows"),
    ("prepare-rows-huge", ["data", "prepare", "synthetic", "--rows", "1000000000000", "--out",
                           "{dir}/o", "-k", "2"], {}, "--rows"),
    ("prepare-cells-huge", ["data", "prepare", "synthetic", "--rows", "100000000",
                            "--features", "1000", "--out", "{dir}/o", "-k", "2"], {},
     "rows x features"),
    ("prepare-classes-one", ["data", "prepare", "synthetic", "--classes", "1", "--out",
                             "{dir}/o", "-k", "2"], {}, "--classes"),
    ("prepare-seed-negative", ["data", "prepare", "synthetic", "--seed", "-1", "--out",
                               "{dir}/o", "-k", "2"], {}, "--seed"),
    ("prepare-scheme-bad", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--scheme",
                            "m-sgc:n=99999"], {}, "--scheme"),
    ("prepare-scheme-unknown", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--scheme",
                                "zzz:n=4"], {}, "scheme"),
    ("prepare-scheme-garbage", ["data", "prepare", "synthetic", "--out", "{dir}/o", "--scheme",
                                "gc:n=8,s=9"], {}, "s must be"),
    ("prepare-out-empty", ["data", "prepare", "synthetic", "--out", "", "-k", "2"], {},
     "--out"),
    ("prepare-unknown-source", ["data", "prepare", "imagenet", "--out", "{dir}/o", "-k", "2"],
     {}, "unknown"),
    ("prepare-source-directory", ["data", "prepare", "{dir}/d.csv", "--out", "{dir}/o", "-k",
                                  "2"], {"d.csv/x": b""}, "folder without manifest.json"),
    ("prepare-label-column-empty", ["data", "prepare", "{dir}/p.csv", "--out", "{dir}/o",
                                    "--label-column", "", "-k", "1"],
     {"p.csv": b"a,label\n1,0\n2,1\n"}, "--label-column"),
    ("prepare-npz-garbage", ["data", "prepare", "{dir}/g.npz", "--out", "{dir}/o", "-k", "1"],
     {"g.npz": b"PK\x03\x04garbage"}, "cannot read"),
    ("prepare-npy", ["data", "prepare", "{dir}/x.npy", "--out", "{dir}/o", "-k", "1"],
     {"x.npy": b"\x93NUMPY"}, "unknown"),
    ("prepare-string-feature", ["data", "prepare", "{dir}/s.csv", "--out", "{dir}/o", "-k",
                                "1"], {"s.csv": b"colour,label\nred,0\nblue,1\n"},
     "--label-column colour"),
    # new commands' options
    ("init-into-folder", ["init", "{dir}"], {}, "is a folder"),
    ("init-exists", ["init", "{dir}/job.yaml"], {"job.yaml": b"x: 1\n"}, "--force"),
    ("validate-missing", ["validate", "{dir}/none.yaml"], {}, "does not exist"),
    ("validate-bad-dataset", ["validate", "{dir}/job.json"],
     {"job.json": spec(dataset={"path": "/no/such.csv"})}, "dataset.path"),
    ("validate-unreadable-csv", ["validate", "{dir}/job.json"],
     {"job.json": spec(dataset={"path": "/tmp/sgc-hostile-none.csv"})}, "dataset.path"),
    ("eval-no-data-option", ["eval", "run-x", "--local"], {}, "--data"),
    ("eval-empty-label-column", ["eval", "run-x", "--local", "--data", "{dir}/t.csv",
                                 "--label-column", ""], {"t.csv": b"a,label\n1,0\n"},
     "--label-column"),
    ("eval-no-emulator", ["eval", "run-x", "--local", "--data", "{dir}/t.csv"],
     {"t.csv": b"a,label\n1,0\n"}, "sgc local up"),
    ("result-download-no-emulator", ["result", "run-x", "--local", "--download", "{dir}/m"], {},
     "sgc local up"),
    ("submit-json-no-emulator-aws", ["submit", "{dir}/job.json", "--aws", "--json"],
     {"job.json": spec()}, "AWS"),
    # job commands without an emulator or credentials
    ("status-no-emulator", ["status", "run-x", "--local"], {}, "sgc local up"),
    ("jobs-no-emulator", ["jobs", "--local"], {}, "sgc local up"),
    ("result-no-emulator", ["result", "run-x", "--local"], {}, "sgc local up"),
    ("cancel-no-emulator", ["cancel", "run-x", "--local", "--now"], {}, "sgc local up"),
    ("resume-no-emulator", ["resume", "run-x", "--local"], {}, "sgc local up"),
    ("logs-no-emulator", ["logs", "run-x", "--local"], {}, "sgc local up"),
    ("watch-no-emulator", ["watch", "run-x", "--local", "--json"], {}, "sgc local up"),
    ("status-dead-emulator", ["status", "run-x", "--local"],
     {"local.json": b'{"pid": 999999999, "endpoint_url": "http://127.0.0.1:1"}'},
     "crashed or was killed"),
    ("status-garbled-state", ["status", "run-x", "--local"], {"local.json": b"{garbled"},
     "damaged"),
    ("status-no-credentials", ["status", "run-x", "--region", "us-east-1"], {}, "AWS"),
    ("submit-injection-on-aws", ["submit", "{dir}/job.json"],
     {"job.json": spec(stragglers={"model": "iid", "p": 0.1})}, "emulation only"),
    ("submit-directory", ["submit", "{dir}"], {}, "directory"),
    ("submit-missing", ["submit", "{dir}/none.yaml"], {}, "does not exist"),
    # other commands' options
    ("simulate-mu-nan", ["simulate", "--mu", "nan"], {}, "--mu"),
    ("simulate-trace-missing", ["simulate", "--trace", "{dir}/none.parquet"], {}, "trace"),
    ("simulate-trace-garbage", ["simulate", "--trace", "{dir}/g.parquet"],
     {"g.parquet": b"garbage"}, "g.parquet"),
    ("simulate-sr-sgc-garbage", ["simulate", "--sr-sgc", "1,x"], {}, "--sr-sgc"),
    ("simulate-schemes-unknown", ["simulate", "--schemes", "zzz"], {}, "zzz"),
    ("warmpool-days-negative", ["warmpool", "forecast", "--days", "-5"], {}, "--days"),
    ("warmpool-days-huge", ["warmpool", "simulate", "--days", "1e9"], {}, "--days"),
    ("warmpool-seed-negative", ["warmpool", "generate", "--seed", "-1", "--out", "{dir}/w"], {},
     "--seed"),
    ("warmpool-plan-bad-spec", ["warmpool", "plan", "{dir}/job.json"],
     {"job.json": spec(workers=-1)}, "workers"),
    ("warmpool-plan-utilization", ["warmpool", "plan", "{dir}/job.json", "--utilization", "nan"],
     {"job.json": spec()}, "--utilization"),
    ("warmpool-stats-garbage", ["warmpool", "stats", "{dir}/g.parquet"],
     {"g.parquet": b"garbage"}, "g.parquet"),
    ("demo-overhead-garbage", ["demo", "--overhead", "x,y"], {}, "--overhead"),
    ("demo-workers-huge", ["demo", "--workers", "100000"], {}, "--workers"),
    ("bench-decode-rounds", ["bench", "decode", "--rounds", "-1"], {}, "--rounds"),
    ("local-up-timeout", ["local", "up", "--timeout", "nan"], {}, "--timeout"),
    ("unknown-command", ["frobnicate"], {}, "No such command"),
]


def all_cases() -> list[tuple[str, list[str], dict[str, bytes], str]]:
    cases = [(f"spec-{name}", SUBMIT, {"job.json": body}, fragment)
             for name, body, fragment in BAD_SPECS]
    cases += [(f"spec-{name}", SUBMIT_YAML, {"job.yaml": body}, fragment)
              for name, body, fragment in BAD_YAML]
    return cases + CLI
