"""``policyqa-lab``: measure retrieval on BEIR data sets and fine-tune the embedding
model. The lab uses the service's code (``service``, ``ingest``); the service never
imports the lab, and the Docker image runs without it."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from service.logs import configure_logging
from service.settings import Settings

app = typer.Typer(
    help="PolicyQA's lab: retrieval benchmarks and embedding fine-tuning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


bench_app = typer.Typer(help="Measure retrieval quality and speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("beir")
def bench_beir_cmd(
    dataset: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    ],
    split: Annotated[str, typer.Option(help="qrels/SPLIT.tsv to score.")] = "test",
    run_out: Annotated[
        Path | None,
        typer.Option(help="Write the hybrid run (TREC format); .dense/.bm25 beside it."),
    ] = None,
    sweep: Annotated[
        str, typer.Option(help="Also score hybrid at these BM25 weights, e.g. 0.5,1.5,2.")
    ] = "",
    group_by: Annotated[
        str | None,
        typer.Option(
            help=(
                "Corpus metadata key whose records form one document (ObliQA: DocumentID), "
                "so neighbouring-chunk smoothing sees them as neighbours."
            )
        ),
    ] = None,
) -> None:
    """Index a BEIR dataset afresh and print nDCG@10, Recall@10/100 and latency as JSON.

    Dense-only, BM25-only and hybrid are scored from the same candidate lists in one run,
    fused as the settings say (POLICYQA_RETRIEVAL__FUSION, __BIGRAMS, __NEIGHBOUR_WEIGHT).
    """
    from tqdm import tqdm

    from ingest.embedding import build_embedder
    from lab.bench import bench_beir

    if not (dataset / "corpus.jsonl").exists():
        typer.echo(f"error: {dataset} has no corpus.jsonl", err=True)
        raise typer.Exit(2)
    settings = Settings()
    bar = tqdm(unit="doc", desc="index", disable=not sys.stderr.isatty())
    try:
        weights = tuple(float(w) for w in sweep.split(",") if w.strip())
    except ValueError:
        typer.echo(f"error: --sweep takes numbers separated by commas, not {sweep!r}", err=True)
        raise typer.Exit(2) from None
    embedder = build_embedder(settings)
    result = bench_beir(dataset, split, settings, embedder, run_out, bar.update, weights, group_by)
    bar.close()
    typer.echo(json.dumps(result))


@app.command()
def finetune(
    out: Annotated[Path, typer.Argument(help="Folder to write the trained model to (new).")],
    beir: Annotated[
        Path | None, typer.Option(help="Train on a BEIR folder's judged questions.")
    ] = None,
    split: Annotated[str, typer.Option(help="The BEIR split to train on.")] = "dev",
    pairs: Annotated[
        Path | None, typer.Option(help='JSONL of {"question": ..., "passage": ...} lines.')
    ] = None,
    epochs: Annotated[float, typer.Option(min=0.01, max=50)] = 2.0,
    batch_size: Annotated[int, typer.Option(min=2, max=512)] = 32,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-2)] = 3e-5,
    seed: int = 0,
) -> None:
    """Fine-tune the embedding model on question → passage pairs of your domain.

    Starts from POLICYQA_EMBEDDING_MODEL and prints a JSON report. Use the result with
    POLICYQA_EMBEDDING_MODEL=OUT, then `policyqa reindex` (the store records its model).
    """
    from lab.finetune import TrainingDataError, finetune, from_beir, from_jsonl

    if (beir is None) == (pairs is None):
        typer.echo("error: give exactly one of --beir DIR or --pairs FILE.jsonl", err=True)
        raise typer.Exit(2)
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        typer.echo(f"error: {out} already exists; choose a new folder", err=True)
        raise typer.Exit(2)
    try:
        if beir is not None:
            if not (beir / "qrels" / f"{split}.tsv").is_file():
                typer.echo(f"error: {beir} has no qrels/{split}.tsv", err=True)
                raise typer.Exit(2)
            if split == "test":
                typer.echo(
                    "warning: training on the test split; do not report scores on it", err=True
                )
            data, source = from_beir(beir, split), f"beir:{beir.resolve()}:{split}"
        else:
            assert pairs is not None
            data, source = from_jsonl(pairs), f"pairs:{pairs.resolve()}"
    except (TrainingDataError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if out.is_dir():
        out.rmdir()
    report = finetune(
        data,
        out,
        Settings(),
        source,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        progress=lambda line: typer.echo(line, err=True),
    )
    typer.echo(json.dumps(asdict(report)))


def main() -> None:
    """Console entry point."""
    configure_logging(logging.INFO if "-v" in sys.argv else logging.WARNING, as_json=False)
    app()
