"""``policyqa batch`` and ``policyqa batch-diff``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from tqdm import tqdm

from ingest.diskspace import DiskFullError
from service.batch import (
    build_meta,
    input_format,
    load_rows,
    order_rows,
    read_questions,
    run_batch,
    write_rows,
    write_text_safely,
)
from service.cli_common import JsonFlag, open_services
from service.reports import diff_rows, format_diff, render_csv, render_markdown

Format = Literal["jsonl", "csv", "md"]


def batch(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help=".txt, .csv, .jsonl or -")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (default: INPUT.answers.*)")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="jsonl, csv or md.")] = "jsonl",
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Citations per answer.")] = 5,
    concurrency: Annotated[
        int, typer.Option(min=1, max=16, help="Questions retrieved and quoted at once.")
    ] = 1,
) -> None:
    """Answer a list of questions into a report; re-run with the same OUTPUT to resume.

    JSONL rows are written and flushed as each question completes (in input order); for
    csv and md they go to OUTPUT.rows.jsonl and the report is rendered at the end.
    OUTPUT.meta.json records the model, settings hash, corpus size and timings.
    """
    source = "stdin" if input_path == "-" else input_path
    try:
        text = sys.stdin.read() if input_path == "-" else Path(input_path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {source}: {exc}", err=True)
        raise typer.Exit(2) from None
    questions, errors = read_questions(text, input_format(input_path), source)
    for problem in errors.rows:
        typer.echo(f"skipped {problem}", err=True)
    if not questions:
        typer.echo("error: no questions to answer", err=True)
        raise typer.Exit(2)
    output = output or Path(f"{'batch' if input_path == '-' else input_path}.answers.{fmt}")
    rows_path = output if fmt == "jsonl" else output.with_name(output.name + ".rows.jsonl")

    services = open_services()
    kept = f" (the answers are kept in {rows_path}: nothing is asked again)"
    try:
        bar = tqdm(total=len(questions), unit="q", disable=not sys.stderr.isatty(), desc="batch")
        run = run_batch(
            services.qa, questions, rows_path, top_k, progress=bar.update, concurrency=concurrency
        )
        bar.close()
        rows = order_rows(load_rows(rows_path), questions)
        write_rows(rows_path, rows)
        meta = build_meta(services.qa, services.library, rows, source, run)
        meta["malformed_rows"] = errors.rows
        meta_text = json.dumps(meta, indent=2, ensure_ascii=False)
        write_text_safely(Path(f"{output}.meta.json"), meta_text, kept)
        if fmt == "csv":
            write_text_safely(output, render_csv(rows), kept)
        elif fmt == "md":
            write_text_safely(output, render_markdown(rows, meta), kept)
    except DiskFullError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()
    typer.echo(
        f"{run.answered} answered now, {run.skipped} already done, {meta['failed']} failed, "
        f"{meta['abstained']} abstained; {run.rate:.1f} questions/s -> {output}",
        err=True,
    )


def batch_diff(
    old: Annotated[Path, typer.Argument(help="Earlier JSONL output (or .rows.jsonl).")],
    new: Annotated[Path, typer.Argument(help="Later JSONL output.")],
    as_json: JsonFlag = False,
) -> None:
    """Which questions changed answers, gained or lost citations, or flipped abstention."""
    for path in (old, new):
        if not path.exists():
            typer.echo(f"error: {path} does not exist", err=True)
            raise typer.Exit(2)
    diff = diff_rows(load_rows(old), load_rows(new))
    typer.echo(json.dumps(diff, ensure_ascii=False) if as_json else format_diff(diff))
