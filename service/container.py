"""The composition root: settings in, the services every adapter uses out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.embedding import PolicyEmbedding, build_embedder
from ingest.manifest import load_catalog
from ingest.provenance import built_with, check_model
from ingest.store import PolicyStore
from ingest.store_factory import build_store
from service.feedback import FeedbackStore
from service.generation import AnswerWriter
from service.library import Library
from service.qa import QA
from service.settings import Settings
from service.types import AskRequest, AskResponse

CHECKOUT_CORPORA = Path(__file__).resolve().parent.parent / "corpora"
"""The manifests beside the code in a source checkout (an installed package has none)."""


@dataclass
class Services:
    """What the HTTP app, the Slack bot and the CLI share in one process."""

    settings: Settings
    store: PolicyStore
    qa: QA
    """Answers and searches."""
    library: Library
    """The documents: ingest, list, read, delete."""
    feedback: FeedbackStore
    writer: AnswerWriter | None = None
    """Writes answers with the configured chat model (None: answers stay extractive)."""

    def ask(self, request: AskRequest) -> AskResponse:
        """The answer a reader gets: extractive, or written by the configured model and
        checked (the extractive one, with the reason, when the model's does not pass)."""
        response = self.qa.answer(request)
        if self.writer is None:
            return response
        return self.writer.write(request.question, response)

    def close(self) -> None:
        """Release the store (and the embedded folder's lock) and the feedback database."""
        self.store.close()
        self.feedback.close()


def catalog_dir(settings: Settings) -> Path:
    """Where the corpus manifests are: the setting, the source checkout's, or ./corpora."""
    if settings.catalog_dir is not None:
        return settings.catalog_dir
    return CHECKOUT_CORPORA if CHECKOUT_CORPORA.is_dir() else Path("corpora")


def build_services(
    settings: Settings, embedder: PolicyEmbedding | None = None, fake_embedder: bool = False
) -> Services:
    """Load the model and open the store once; used by the API lifespan, Slack and the CLI.

    ``embedder`` reuses an already loaded model (tests share one across stores).

    Raises:
        StoreLockedError: the embedded store is open in another process.
        EmbeddingModelError: the configured model cannot be loaded offline.
        ModelMismatchError: the store was built with another embedding model.
    """
    embedder = embedder or build_embedder(settings, fake=fake_embedder)
    catalog = load_catalog(catalog_dir(settings))
    store = build_store(settings)
    try:
        check_model(store, built_with(embedder, settings), settings)
        qa = QA(settings, store, embedder, catalog)
    except Exception:
        store.close()
        raise
    library = Library(settings, store, embedder, catalog, on_change=qa.forget_corpus)
    feedback = FeedbackStore(settings.data_dir / "feedback.sqlite3")
    writer = (
        AnswerWriter(settings.llm, embedder, settings.embedding_languages)
        if settings.llm.enabled
        else None
    )
    return Services(
        settings=settings, store=store, qa=qa, library=library, feedback=feedback, writer=writer
    )
