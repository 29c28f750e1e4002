"""The ONNX Runtime backends give the torch model's vectors (exported locally, no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.embedding import PolicyEmbedding, build_embedder
from ingest.payloads import embedding_text, sentence_spans
from service.settings import Settings

TEXTS = [
    "Why does China open-source its AI models?",
    "The State Council treats artificial intelligence as national infrastructure, like "
    "electricity grids and railways. Open models spread Chinese standards abroad.",
    "Export controls on advanced chips need licences.",
]


@pytest.mark.parametrize(("backend", "floor"), [("onnx", 0.9999), ("onnx-int8", 0.98)])
def test_onnx_backend_matches_torch(
    tmp_path: Path, real_embedder: PolicyEmbedding, backend: str, floor: float
) -> None:
    settings = Settings(data_dir=tmp_path, embedding_backend=backend)
    onnx = build_embedder(settings)
    assert list((tmp_path / "models").glob("*.onnx")), "the export is cached in the data dir"
    ours = np.asarray(onnx.get_text_embedding_batch(TEXTS))
    reference = np.asarray(real_embedder.get_text_embedding_batch(TEXTS))
    assert (ours * reference).sum(axis=1).min() >= floor
    query = np.asarray(onnx.get_query_embedding(TEXTS[0]))
    assert float(query @ reference[0]) >= floor

    chunk = TEXTS[1]
    embedded = embedding_text("Plan", chunk)
    spans = [sentence_spans(embedded, chunk)]
    _, torch_rows = real_embedder.embed_passages([embedded], spans)
    dense, onnx_rows = onnx.embed_passages([embedded], spans)
    assert dense.shape == (1, 384)
    assert onnx_rows[0] is not None and torch_rows[0] is not None
    assert onnx_rows[0].shape == torch_rows[0].shape == (2, 384)
    assert (onnx_rows[0] * torch_rows[0]).sum(axis=1).min() >= floor - 0.01
