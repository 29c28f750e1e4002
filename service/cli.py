"""``policyqa``: ingest, ask, serve, eval and fetch from the command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from ingest.store import FilterError
from service.cli_backup import backup, restore
from service.cli_batch import batch, batch_diff
from service.cli_common import JsonFlag, open_services
from service.cli_ingest import ingest
from service.cli_reindex import reindex
from service.logs import configure_logging
from service.qa import QuestionTooLongError
from service.security import is_loopback
from service.settings import Settings
from service.types import AskRequest

logger = logging.getLogger(__name__)

app = typer.Typer(
    help="PolicyQA: cited answers from AI-policy documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    from service.api import create_app
    from service.serving import run_server

    settings = Settings()
    if not is_loopback(host) and not settings.parsed_api_keys() and not settings.allow_open_bind:
        typer.echo(
            f"error: refusing to serve on {host} without API keys. Set POLICYQA_API_KEYS, or "
            "POLICYQA_ALLOW_OPEN_BIND=true if something in front of PolicyQA guards it.",
            err=True,
        )
        raise typer.Exit(2)
    services = open_services()
    if settings.log_json:  # every line of the output is then one JSON object
        logger.info("serving url=http://%s:%d/", host, port)
    else:
        typer.echo(
            f"PolicyQA on http://{host}:{port}/  (open it in a browser to ask; API docs: /docs)\n"
            f"try: curl -s http://{host}:{port}/v1/ask -H 'content-type: application/json' "
            '-d \'{"question": "Why does China open-source its AI models?"}\''
        )
    try:
        run_server(
            create_app(services),
            host=host,
            port=port,
            grace_s=settings.shutdown_grace_s,
            log_level="info",
            log_config=None,  # uvicorn's loggers keep PolicyQA's handler (service/logs.py)
        )
    finally:
        services.close()  # the app does not own services it was given


@app.command(name="eval")
def evaluate_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="Question, answer, docs or compare sets (JSONL, shared/eval format)."),
    ],
    details: Annotated[bool, typer.Option(help="Also print each question's outcome.")] = False,
) -> None:
    """Score question sets as shared/eval/README.md defines, one JSON line per file: hit@5,
    MRR@10 and abstention accuracy (question sets); nugget recall (answer sets); doc@1,
    doc share and quote@5 (docs sets); side coverage (compare sets)."""
    from service.evaluation import evaluate, format_report, load_questions

    sets = [(file, load_questions(file)) for file in files]
    services = open_services()
    try:
        for file, questions in sets:
            result = evaluate(questions, services.qa.answer)
            if details:
                for row in result["details"]:
                    typer.echo(json.dumps(row, ensure_ascii=False))
            typer.echo(json.dumps({"file": file.name, **json.loads(format_report(result))}))
    finally:
        services.close()


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

    Without --socket the bot is served by `policyqa serve` at /slack/events. This command
    opens the store itself: with the embedded store it cannot run beside `policyqa serve`
    (run it instead, or point both at a Qdrant server with POLICYQA_QDRANT_URL).
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


app.command(name="ingest")(ingest)
app.command(name="batch")(batch)
app.command(name="reindex")(reindex)
app.command(name="batch-diff")(batch_diff)
app.command(name="backup")(backup)
app.command(name="restore")(restore)


@app.command(name="mcp")
def mcp_stdio(
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Where readers reach `policyqa serve` (e.g. http://127.0.0.1:8000): "
            "citations then carry links to the source view."
        ),
    ] = None,
) -> None:
    """Serve PolicyQA's tools (ask, search, get_document, list_documents) and documents
    to an AI assistant over stdio, the Model Context Protocol's local transport: the
    assistant starts this command. Local and trusted: no API key. While `policyqa serve`
    holds the embedded store, point the assistant at its /mcp instead."""
    import contextlib

    from service.mcp_tools import build_mcp_server

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol only
        services = open_services()
    try:
        build_mcp_server(services, public_url=public_url).run("stdio")
    finally:
        services.close()


def main() -> None:
    """Console entry point."""
    serving = len(sys.argv) > 1 and sys.argv[1] == "serve"
    level = logging.INFO if serving or "-v" in sys.argv else logging.WARNING
    try:
        settings = Settings()
    except ValidationError:  # the command itself reports it
        settings = None
    configure_logging(
        level,
        as_json=bool(settings and settings.log_json),
        log_questions=bool(settings and settings.log_questions),
    )
    app()
