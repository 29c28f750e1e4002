"""What a store was built with: the embedding model and the chunking settings.

The first ingest into a store records the model's name, its vectors' dimension, a
fingerprint of its weights (its vector for a fixed probe sentence: another model, or the
same name with other weights, gives another) and the chunking settings. Ingesting or
serving with another model is then refused, naming both, rather than comparing vectors
of two models (``policyqa reindex`` re-embeds it). A store made before this record
existed takes the model of its next ingest.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ingest.embedding import PolicyEmbedding
from ingest.settings import IngestSettings
from ingest.store import PolicyStore

logger = logging.getLogger(__name__)

PROBE = "PolicyQA embedding fingerprint: the agency shall publish its rules on open models."
SAME_WEIGHTS = 0.98
"""Least cosine between the probe's recorded and current vectors for the same weights
(torch, ONNX fp32 and int8 runs of one model agree above it; two models do not)."""


REINDEXING = "reindexing"
"""Set in the record while ``policyqa reindex`` re-embeds the store."""


class ModelMismatchError(ValueError):
    """The store was built with another embedding model than the one configured."""


def built_with(embedder: PolicyEmbedding, settings: IngestSettings) -> dict[str, Any]:
    """The record of the model and chunking a store is built with now."""
    probe = np.asarray(embedder.get_text_embedding(PROBE), dtype=np.float32)
    return {
        "model": embedder.model_name,
        "dimension": int(embedder.dimension),
        "fingerprint": [round(float(x), 5) for x in probe],
        "chunking": settings.chunking.model_dump(),
        "chunking_hash": settings.chunking_hash(),
    }


def check_model(store: PolicyStore, current: dict[str, Any], settings: IngestSettings) -> None:
    """Refuse a store built with another model than ``current`` (see :func:`built_with`);
    a store that records none passes.

    Raises:
        ModelMismatchError: the store's vectors come from another model.
    """
    stored = store.read_meta()
    if stored.get(REINDEXING):
        raise ModelMismatchError(
            f"a reindex of the store to model {stored.get('model')!r} was stopped before "
            "it finished: run `policyqa reindex` again (with that model)"
        )
    problem = _difference(stored, current) if stored else None
    if problem:
        raise ModelMismatchError(_message(stored, current, problem, settings))


def record_model(store: PolicyStore, current: dict[str, Any]) -> None:
    """Write what the store is built with now (its first ingest, new chunking settings)."""
    if store.read_meta() != current:
        store.write_meta(current)
        logger.info("store built_with model=%s dim=%d", current["model"], current["dimension"])


def _difference(stored: dict[str, Any], current: dict[str, Any]) -> str | None:
    if stored.get("model") != current["model"]:
        return "model"
    if stored.get("dimension") != current["dimension"]:
        return "dimension"
    old = np.asarray(stored.get("fingerprint") or [], dtype=np.float32)
    new = np.asarray(current["fingerprint"], dtype=np.float32)
    if old.shape != new.shape:
        return "fingerprint"
    cosine = float(old @ new / ((np.linalg.norm(old) * np.linalg.norm(new)) or 1.0))
    return None if cosine >= SAME_WEIGHTS else "fingerprint"


def _message(
    stored: dict[str, Any], current: dict[str, Any], problem: str, settings: IngestSettings
) -> str:
    what = {
        "model": f"model {stored.get('model')!r}, not {current['model']!r}",
        "dimension": f"{stored.get('dimension')}-d vectors, not {current['dimension']}-d",
        "fingerprint": f"other weights under the name {current['model']!r}",
    }[problem]
    return (
        f"the store (collection {settings.collection!r} in {settings.data_dir}) was built with "
        f"{what}: its vectors cannot be compared with this model's. Set "
        f"POLICYQA_EMBEDDING_MODEL back to {stored.get('model')!r}, or re-embed every "
        "stored document with this model: `policyqa reindex` (vectors of the same size), "
        "or set POLICYQA_COLLECTION to a new name (or POLICYQA_DATA_DIR to a new folder) "
        "and run `policyqa ingest` on the documents again (doc ids stay the same)."
    )
