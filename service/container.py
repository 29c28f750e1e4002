"""The composition root: settings in, the services every adapter uses out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.embedding import PolicyEmbedding, build_embedder
from ingest.manifest import load_catalog
from ingest.settings import Settings
from ingest.store import build_store
from service.feedback import FeedbackStore
from service.qa import QA

CORPORA_DIR = Path(__file__).resolve().parent.parent / "corpora"


@dataclass
class Services:
    """What the HTTP app, the Slack bot and the CLI share in one process."""

    settings: Settings
    qa: QA
    feedback: FeedbackStore

    def close(self) -> None:
        """Release the store (and the embedded folder's lock) and the feedback database."""
        self.qa.store.close()
        self.feedback.close()


def build_services(
    settings: Settings, embedder: PolicyEmbedding | None = None, fake_embedder: bool = False
) -> Services:
    """Load the model and open the store once; used by the API lifespan, Slack and the CLI.

    ``embedder`` reuses an already loaded model (tests share one across stores).

    Raises:
        StoreLockedError: the embedded store is open in another process.
        EmbeddingModelError: the configured model cannot be loaded offline.
    """
    embedder = embedder or build_embedder(settings, fake=fake_embedder)
    store = build_store(settings)
    try:
        qa = QA(settings, store, embedder, load_catalog(CORPORA_DIR))
    except Exception:
        store.close()
        raise
    feedback = FeedbackStore(settings.data_dir / "feedback.sqlite3")
    return Services(settings=settings, qa=qa, feedback=feedback)
