"""`policyqa-lab bench beir`: the metrics, the TREC run file, and a tiny BEIR dataset end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.schema import PayloadKey
from ingest.store_edge import EdgeStore
from lab.bench import bench_beir, index_corpus, load_beir, ndcg_at, recall_at
from service.settings import Settings

DOCS = {
    "d1": ("Data centers", "A data center project draws more than 100 megawatts of new load."),
    "d2": ("Open weights", "Open-weight models let startups avoid dependence on closed providers."),
    "d3": ("Robotics", "Shanghai AI Lab releases open-source robotics foundation models."),
    "d4": ("Chips", "Export controls restrict advanced semiconductor manufacturing equipment."),
    "d5": ("Empty", ""),
}
QUERIES = {"q1": "How many megawatts make a data center project?", "q2": "robotics lab open source"}
QRELS = {"q1": {"d1": 1}, "q2": {"d3": 1}}


def test_ndcg_and_recall_follow_trec_definitions() -> None:
    assert ndcg_at(["a", "b"], {"a": 1}, 10) == 1.0
    assert ndcg_at(["b", "a"], {"a": 1}, 10) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert ndcg_at(["x"], {"a": 1}, 10) == 0.0
    assert recall_at(["a", "x", "b"], {"a": 1, "b": 1, "c": 0}, 2) == 0.5


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "title": t, "text": x}) for k, (t, x) in DOCS.items())
    )
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "text": v}) for k, v in QUERIES.items())
    )
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{s}" for q, rels in QRELS.items() for d, s in rels.items()]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_bench_scores_three_modes_and_writes_trec_runs(beir_dir, real_embedder, tmp_path) -> None:
    run = tmp_path / "run.trec"
    result = bench_beir(
        beir_dir, "test", Settings(data_dir=tmp_path), real_embedder, run, sweep=(0.5, 2.0)
    )
    assert result["documents"] == 5 and result["queries"] == 2 and result["chunks"] == 4
    for mode in ("dense", "bm25", "hybrid"):
        assert result[mode]["ndcg@10"] == 1.0, mode  # each query's one relevant doc ranks first
        assert result[mode]["recall@100"] == 1.0
    assert result["query_ms_p50"] > 0
    assert result["hybrid@0.5"]["ndcg@10"] == 1.0 and "hybrid@2" in result
    first = run.read_text().splitlines()[0].split()
    assert first[:4] == ["q1", "Q0", "d1", "1"] and first[5] == "policyqa-hybrid"
    assert (tmp_path / "run.dense.trec").exists() and (tmp_path / "run.bm25.trec").exists()


def test_grouped_records_become_one_document_whose_chunks_are_numbered_on(
    beir_dir: Path, real_embedder, tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in (beir_dir / "corpus.jsonl").read_text().splitlines()]
    for row in rows:  # two "regulations": d1, d2 | d3, d4, d5 (empty)
        row["metadata"] = {"DocumentID": 1 if row["_id"] in ("d1", "d2") else 2}
    (beir_dir / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    settings = Settings(
        data_dir=tmp_path,
        retrieval={"fusion": "minmax", "bigrams": True, "neighbour_weight": 0.2},
    )
    data = load_beir(beir_dir, "test")
    store = EdgeStore(tmp_path / "store", "beir")
    try:
        assert index_corpus(data, store, real_embedder, settings, group_by="DocumentID") == 4
        second = list(store.iter_chunks("beir-DocumentID-2"))
        assert sorted((p[PayloadKey.CHUNK_INDEX], p[PayloadKey.FILE_NAME]) for p in second) == [
            (0, "d3"),
            (1, "d4"),
        ]
    finally:
        store.close()
    result = bench_beir(beir_dir, "test", settings, real_embedder, group_by="DocumentID")
    assert result["hybrid"]["ndcg@10"] == 1.0, "each query's record still ranks first"
    assert (result["fusion"], result["bigrams"], result["group_by"]) == (
        "minmax",
        True,
        "DocumentID",
    )
