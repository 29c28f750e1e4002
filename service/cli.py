"""``policyqa``: ingest, ask, serve, eval and fetch from the command line."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ingest.loaders import LoadError
from ingest.settings import Settings
from ingest.store import FilterError
from service.cli_batch import batch, batch_diff
from service.cli_common import JsonFlag, open_services
from service.logs import configure_logging
from service.qa import QuestionTooLongError
from service.security import is_loopback
from service.types import AskRequest

app = typer.Typer(
    help="PolicyQA: cited answers from AI-policy documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    prune: Annotated[bool, typer.Option(help="Remove documents whose files are gone.")] = False,
    api: Annotated[
        str | None,
        typer.Option(help="Send the files to a running service (its URL) instead of the store."),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the admin key for --api (or set POLICYQA_CLIENT_API_KEY); "
            "a key is never taken on the command line, where `ps` shows it."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest .txt, .md, .pdf, .html, .vtt and .srt files; unchanged files are skipped.

    While `policyqa serve` holds the embedded store, use --api http://127.0.0.1:8000.
    """
    if api:
        key = (
            api_key_file.read_text(encoding="utf-8").strip()
            if api_key_file
            else os.environ.get("POLICYQA_CLIENT_API_KEY")
        )
        _ingest_via_api(paths, api, key, as_json)
        return
    services = open_services()
    try:
        summary = services.qa.ingest(paths, prune=prune)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(summary.to_json()))
    else:
        typer.echo(
            f"documents: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.failed} failed, {summary.pruned} pruned; "
            f"{summary.chunks_written} chunks written, {summary.points_total} in store; "
            f"{summary.seconds:.1f}s"
        )
        for failure in summary.failures:
            typer.echo(f"  skipped {failure['file']}: {failure['error']}", err=True)
    if summary.failed and not (summary.added or summary.updated or summary.unchanged):
        raise typer.Exit(1)


def _ingest_via_api(paths: list[Path], api: str, api_key: str | None, as_json: bool) -> None:
    from service.remote import RemoteError, ingest_remote

    try:
        job = ingest_remote(paths, api, api_key)
    except (RemoteError, LoadError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(job))
    else:
        counts = Counter(f["status"] for f in job["files"])
        typer.echo(
            f"job {job['id']} {job['status']}: "
            + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            + f"; {job['chunks_written']} chunks written"
        )
        for f in job["files"]:
            if f["status"] == "failed":
                typer.echo(f"  skipped {f['file']}: {f['error']}", err=True)
    if job["status"] != "done":
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Citations at most.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question with cited passages (or abstain when the corpus lacks evidence)."""
    services = open_services()
    try:
        response = services.ask(AskRequest(question=question, top_k=top_k))
    except (QuestionTooLongError, FilterError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    if as_json:
        typer.echo(response.model_dump_json())
        return
    typer.echo(response.answer)
    for c in response.citations:
        where = c.location()
        typer.echo(f"\n[{c.n}] {c.title}{f' ({where})' if where else ''}")
        typer.echo(f"    {c.source} chars {c.start_char}-{c.end_char}")
        typer.echo(f'    "{" ".join(c.quote.split())}"')


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the HTTP API (/v1/ask, /v1/documents, /healthz, /readyz, /docs)."""
    import uvicorn

    from service.api import create_app

    settings = Settings()
    if not is_loopback(host) and not settings.parsed_api_keys() and not settings.allow_open_bind:
        typer.echo(
            f"error: refusing to serve on {host} without API keys. Set POLICYQA_API_KEYS, or "
            "POLICYQA_ALLOW_OPEN_BIND=true if something in front of PolicyQA guards it.",
            err=True,
        )
        raise typer.Exit(2)
    services = open_services()
    typer.echo(
        f"PolicyQA on http://{host}:{port}/  (open it in a browser to ask; API docs: /docs)\n"
        f"try: curl -s http://{host}:{port}/v1/ask -H 'content-type: application/json' "
        '-d \'{"question": "Why does China open-source its AI models?"}\''
    )
    try:
        uvicorn.run(
            create_app(services),
            host=host,
            port=port,
            log_level="info",
            timeout_graceful_shutdown=30,
        )
    finally:
        services.close()  # the app does not own services it was given


@app.command(name="eval")
def evaluate_cmd(
    file: Annotated[
        Path, typer.Argument(help="Question set or answer set (JSONL, shared/eval format).")
    ],
    details: Annotated[bool, typer.Option(help="Also print each question's outcome.")] = False,
) -> None:
    """Score a question set (hit@5, MRR@10, abstention accuracy) or an answer set (nugget
    recall, abstention accuracy), as shared/eval/README.md defines; one JSON line."""
    from service.evaluation import evaluate, format_report, load_questions

    questions = load_questions(file)
    services = open_services()
    try:
        result = evaluate(questions, services.qa.answer)
    finally:
        services.close()
    if details:
        for row in result["details"]:
            typer.echo(json.dumps(row))
    typer.echo(format_report(result))


@app.command()
def fetch(
    manifest: Annotated[Path, typer.Argument(help="Corpus manifest, e.g. corpora/ai-policy.toml.")],
    mirror: Annotated[
        str | None, typer.Option(help="Fetch FILE from MIRROR/FILE instead of each url.")
    ] = None,
    retries: Annotated[int, typer.Option(min=0, max=10)] = 3,
    timeout: Annotated[float, typer.Option(min=1, max=600, help="Seconds per request.")] = 60,
    if_online: Annotated[
        bool,
        typer.Option(
            "--if-online",
            help="When the network is unreachable, say so and exit 0 (what is cached stays).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Download a manifest's documents into the cache, verifying checksums."""
    from ingest.fetch import fetch_manifest

    settings = Settings()
    report = fetch_manifest(
        manifest,
        settings.data_dir / "corpora",
        mirror=mirror,
        retries=retries,
        timeout=timeout,
        stop_when_offline=if_online,
    )
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        for line in report.lines():
            typer.echo(line)
    if report.failed and not if_online:
        raise typer.Exit(1)


@app.command()
def slack(
    socket: Annotated[bool, typer.Option("--socket", help="Connect over Socket Mode.")] = False,
) -> None:
    """Run the Slack bot over Socket Mode (no public URL needed; needs POLICYQA_SLACK__APP_TOKEN).

    Without --socket the bot is served by `policyqa serve` at /slack/events.
    """
    if not socket:
        typer.echo("The HTTP bot runs inside `policyqa serve` (/slack/events); use --socket.")
        raise typer.Exit(2)
    settings = Settings()
    if not settings.slack.enabled or not settings.slack.app_token.get_secret_value():
        typer.echo(
            "error: set POLICYQA_SLACK__BOT_TOKEN, POLICYQA_SLACK__SIGNING_SECRET and "
            "POLICYQA_SLACK__APP_TOKEN",
            err=True,
        )
        raise typer.Exit(2)
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from service.slack import build_slack_app

    services = open_services()
    try:
        handler = SocketModeHandler(
            build_slack_app(services), settings.slack.app_token.get_secret_value()
        )
        handler.start()  # type: ignore[no-untyped-call]
    finally:
        services.close()


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
    from service.bench import bench_beir

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
    POLICYQA_EMBEDDING_MODEL=OUT, then re-ingest (the model is part of every chunk's hash).
    """
    from service.finetune import TrainingDataError, finetune, from_beir, from_jsonl

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


app.command(name="batch")(batch)
app.command(name="batch-diff")(batch_diff)


def main() -> None:
    """Console entry point."""
    serving = len(sys.argv) > 1 and sys.argv[1] == "serve"
    level = logging.INFO if serving or "-v" in sys.argv else logging.WARNING
    configure_logging(level, as_json=os.environ.get("POLICYQA_LOG_JSON", "").lower() == "true")
    app()
