"""`lab.scale`: a store the scale benchmark builds is one PolicyQA serves (its copies have
records, so the live-version filter keeps them), and the benchmark's check refuses
figures of empty searches."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.embedding import build_embedder
from ingest.store_factory import build_store
from lab.scale import embed_sources, fill_store, obliqa_documents, served_problems
from service.container import build_services
from service.settings import Settings
from service.types import AskRequest, SearchRequest

PASSAGES = [
    (1, "Capital requirements"),
    (1, "An Authorised Person must hold regulatory capital of at least ten million dollars."),
    (1, "The Regulator may require additional capital where the risk profile warrants it."),
    (2, "Anti-money laundering"),
    (
        2,
        "A Relevant Person must report suspicious transactions to the Financial Intelligence Unit.",
    ),
    (2, "Customer due diligence must be applied before a business relationship is established."),
    (2, ""),
]


def _corpus(tmp_path: Path) -> Path:
    lines = [
        json.dumps({"_id": f"p{i}", "text": text, "metadata": {"DocumentID": doc}})
        for i, (doc, text) in enumerate(PASSAGES)
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_benchmark_built_store_serves_its_copies(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    embedder = build_embedder(settings, fake=True)
    docs = obliqa_documents(_corpus(tmp_path))
    assert [d.file_name for d in docs] == ["obliqa-1.txt", "obliqa-2.txt"]
    sources = embed_sources(docs, settings, embedder, tmp_path / "cache")
    again = embed_sources(docs, settings, embedder, tmp_path / "cache")  # read from the cache
    assert (again[0].dense == sources[0].dense).all()
    per_round = sum(len(s.payloads) for s in sources)
    store = build_store(settings)
    written = fill_store(store, sources, 3 * per_round)
    store.close()
    assert written == 3 * per_round

    services = build_services(settings, fake_embedder=True)
    try:
        found = services.qa.search(SearchRequest(query="suspicious transactions report"))
        assert found.results, "a benchmark-built store served no results"
        assert {c.doc_id.split("~")[0] for c in found.results} == {"obliqa-1", "obliqa-2"}
        documents = list(services.store.iter_documents())
        assert len(documents) == 6
        assert {d["doc_id"] for d in documents} >= {"obliqa-1~2", "obliqa-2~1"}
        answer = services.qa.answer(
            AskRequest(question="Who receives suspicious transaction reports?")
        )
        assert answer.timings_ms["search"] >= 0
    finally:
        services.close()


def test_the_check_refuses_empty_searches_and_abstentions() -> None:
    assert served_problems([3, 5], [False, False, True], max_abstain=0.5) == []
    assert served_problems([3, 0], [False], 0.1) == ["1 of 2 searches returned no result"]
    assert served_problems([], [], 0.1)[0] == "0 of 0 searches returned no result"
    assert (
        "2 of 3 in-corpus questions abstained" in served_problems([1], [True, True, False], 0.1)[0]
    )
