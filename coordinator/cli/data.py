"""`sgc data …`: prepare datasets as Parquet partitions + manifest, locally or in S3."""

from __future__ import annotations

import json
import math

import click

from coordinator.cli.options import json_flag
from coordinator.spec.limits import MAX_CLASSES, MAX_FEATURES, MAX_PARTITIONS, MAX_ROWS, MAX_SEED


@click.group()
def data() -> None:
    """Datasets: turn a source into partitions the workers read (docs/datasets.md)."""


@data.command("prepare")
@click.argument("source")
@click.option("--out", "destination", required=True,
              help="Folder, or s3://bucket/prefix (boto3 honours AWS_ENDPOINT_URL for moto).")
@click.option("-k", "--partitions", "k", type=click.IntRange(1, MAX_PARTITIONS),
              help="Number of equal partitions.")
@click.option("--sizes", help="Comma-separated partition fractions summing to 1.")
@click.option("--scheme", "scheme_spec",
              help="Size partitions for a scheme, e.g. 'm-sgc:n=256,B=1,W=2,lam=27' or "
                   "'gc:n=256,s=15' (uses session.partition_sizes).")
@click.option("--rows", type=click.IntRange(1, MAX_ROWS), default=16384, show_default=True,
              help="synthetic: rows.")
@click.option("--features", type=click.IntRange(1, MAX_FEATURES), default=64, show_default=True,
              help="synthetic: features (rows x features at most 250 million).")
@click.option("--classes", type=click.IntRange(2, MAX_CLASSES), default=2, show_default=True,
              help="synthetic: classes.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Generator and shuffle seed.")
@click.option("--no-shuffle", is_flag=True, help="Keep the source's row order.")
@click.option("--label-column", default="label", show_default=True,
              help="Files: the label column (class indices, or strings: encoded, the mapping "
                   "kept in the manifest).")
@click.option("--standardize", is_flag=True,
              help="Rescale every feature to mean 0, std 1; the statistics are kept in the "
                   "manifest and applied again at prediction.")
@json_flag("Print the manifest as JSON.")
def prepare(source: str, destination: str, k: int | None, sizes: str | None,
            scheme_spec: str | None, rows: int, features: int, classes: int, seed: int,
            no_shuffle: bool, label_column: str, standardize: bool, as_json: bool) -> None:
    """Prepare SOURCE: digits, digits-images, digits-parity, synthetic, a .csv / .parquet file
    (numeric features, one label column), a .npz (arrays X and y) or a prepared folder (cut
    again).

    A .npz's X is a table (rows, features) or images (N, C, H, W) or (N, H, W); images (and
    digits-images: the digits as 1x8x8 images) keep their rows flat and record the image shape
    in the manifest, for a cnn model. A job takes the result as `dataset: {path: FOLDER}`
    (docs/datasets.md).

    \b
    Examples:
      sgc data prepare patients.csv --label-column diagnosis --standardize --out data/p -k 8
      sgc data prepare arrays.npz --out data/arrays -k 16
      sgc data prepare digits --out data/datasets/digits-k256 -k 256
      sgc data prepare images.npz --out data/datasets/images-k64 -k 64
      sgc data prepare synthetic --rows 65536 --out s3://sgcflow-data/datasets/syn \\
          --scheme m-sgc:n=256,B=1,W=2,lam=27
    """
    from coordinator.storage import dataset_prep, dataset_sources

    if not destination.strip():
        raise click.BadParameter("must be a folder or s3://bucket/prefix", param_hint="--out")
    if not label_column.strip():
        raise click.BadParameter("must be a column name", param_hint="--label-column")
    try:
        fractions = _fractions(sizes, scheme_spec)
        table = dataset_sources.load_source(source, rows=rows, features=features,
                                            classes=classes, seed=seed,
                                            label_column=label_column, standardize=standardize)
        k = None if fractions else k
        counts = dataset_prep.partition_rows(len(table.labels), k=k, sizes=fractions)
        dataset_prep.check_trainable(  # before anything is written
            table, counts, sizes_field="--scheme" if scheme_spec else "--sizes" if sizes else "-k",
            labels_field="--rows" if source == "synthetic" else f"--label-column {label_column}")
        manifest = dataset_prep.prepare(table, destination, k=k, sizes=fractions, seed=seed,
                                        shuffle=not no_shuffle)
    except ValueError as error:  # DatasetError and the scheme library's errors name the field
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(manifest, indent=1))
        return
    counts = [p["rows"] for p in manifest["partitions"]]
    labels = f" ({', '.join(map(str, manifest['labels'][:5]))}" \
        f"{', ...' if len(manifest['labels']) > 5 else ''})" if "labels" in manifest else ""
    scaled = ", standardized" if "standardize" in manifest else ""
    image = manifest.get("image_shape")
    shape = f" ({'x'.join(map(str, image))} images)" if image else ""
    click.echo(f"{manifest['dataset']}: {manifest['n_rows']} rows x {manifest['n_features']} "
               f"features{shape}{scaled}, {manifest['n_classes']} classes{labels} -> "
               f"{len(counts)} partitions ({min(counts)}..{max(counts)} rows) in {destination}")


def _fractions(sizes: str | None, scheme_spec: str | None) -> list[float] | None:
    if sizes and scheme_spec:
        raise click.UsageError("give --sizes or --scheme, not both")
    if sizes:
        try:
            fractions = [float(v) for v in sizes.split(",")]
        except ValueError:
            raise click.BadParameter(f"not a list of numbers: {sizes[:100]!r}",
                                     param_hint="--sizes") from None
        if not all(math.isfinite(f) and 0 < f <= 1 for f in fractions):
            raise click.BadParameter(f"fractions must be numbers in (0, 1], got {sizes[:100]!r}",
                                     param_hint="--sizes")
        if abs(math.fsum(fractions) - 1.0) > 1e-9:  # checked before any data is loaded
            raise click.ClickException(f"sizes: fractions must sum to 1, got "
                                       f"{math.fsum(fractions):.12g}")
        return fractions
    if not scheme_spec:
        return None
    from coordinator.schemes import make_scheme

    name, _, arguments = scheme_spec.partition(":")
    params = {}
    for item in filter(None, arguments.split(",")):
        key, _, value = item.partition("=")
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 4) \
                or not 0 <= int(digits) <= 1000:
            raise click.BadParameter(f"{item!r} is not key=integer with the integer in "
                                     "[0, 1000]", param_hint="--scheme")
        params[key.strip()] = int(value)
    return list(make_scheme(name.strip(), **params).session(jobs=1).partition_sizes)
