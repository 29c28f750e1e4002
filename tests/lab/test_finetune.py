"""`policyqa-lab finetune`: pairs in, a model out that ranks the domain's passages better."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ingest.embedding import build_embedder
from lab.cli import app
from lab.finetune import (
    TrainingDataError,
    TrainingSet,
    finetune,
    from_beir,
    from_jsonl,
    hard_negatives,
)
from service.settings import Settings

PAIRS = [
    (
        "Who must appoint an MLRO?",
        "A Relevant Person must appoint a Money Laundering Reporting Officer.",
    ),
    (
        "When is a suspicious activity report due?",
        "The MLRO must file a suspicious activity report promptly.",
    ),
    (
        "What records must be kept of customer due diligence?",
        "Customer due diligence records are kept for six years.",
    ),
    (
        "Which firms may hold client money?",
        "Only an Authorised Person with a client money permission may hold client money.",
    ),
    (
        "How often is the compliance function reviewed?",
        "The governing body reviews the compliance function at least annually.",
    ),
    (
        "What is a politically exposed person?",
        "A politically exposed person is an individual entrusted with a prominent public function.",
    ),
]


def _write_pairs(path: Path) -> Path:
    path.write_text("\n".join(json.dumps({"question": q, "passage": p}) for q, p in PAIRS))
    return path


def test_pairs_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "passage": "p"}\n{"question": "only"}\n')
    with pytest.raises(TrainingDataError, match=r"bad.jsonl:2"):
        from_jsonl(bad)
    one = tmp_path / "one.jsonl"
    one.write_text('{"question": "q", "passage": "p"}\n')
    with pytest.raises(TrainingDataError, match="fewer than two"):
        from_jsonl(one)


def test_hard_negatives_are_lexically_close_and_never_gold() -> None:
    data = TrainingSet(
        questions=["client money permission"],
        passages=[
            "An Authorised Person holds client money under a permission.",
            "Client money rules: a permission is needed to hold client money.",
            "The MLRO files reports.",
        ],
        gold=[frozenset({1})],
    )
    assert hard_negatives(data) == [[0]], "the close non-gold passage; not gold, not unrelated"


def test_beir_split_gives_judged_questions_against_the_whole_corpus(tmp_path: Path) -> None:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"p{i}", "title": "", "text": p} for i, (_, p) in enumerate(PAIRS)]
    corpus.append({"_id": "empty", "title": "", "text": ""})
    (folder / "corpus.jsonl").write_text("\n".join(map(json.dumps, corpus)))
    queries = [{"_id": f"q{i}", "text": q} for i, (q, _) in enumerate(PAIRS)]
    (folder / "queries.jsonl").write_text("\n".join(map(json.dumps, queries)))
    qrels = ["query-id\tcorpus-id\tscore", "q0\tp0\t1", "q1\tp1\t1", "q2\tempty\t1"]
    (folder / "qrels" / "dev.tsv").write_text("\n".join(qrels) + "\n")
    data = from_beir(folder, "dev")
    assert len(data.passages) == 7 and data.questions == [PAIRS[0][0], PAIRS[1][0]]
    assert data.gold == [frozenset({0}), frozenset({1})], "a gold passage with no text is dropped"


def _gold_similarity(model_name: str, tmp_path: Path) -> float:
    settings = Settings(data_dir=tmp_path, embedding_model=model_name, query_backend="torch")
    embedder = build_embedder(settings)
    questions = np.array([embedder.get_query_embedding(q) for q, _ in PAIRS])
    passages = np.array(embedder.get_text_embedding_batch([f"\n{p}" for _, p in PAIRS]))
    return float(np.mean(np.sum(questions * passages, axis=1)))


def test_finetuned_model_brings_questions_closer_to_their_passages(tmp_path: Path) -> None:
    data = from_jsonl(_write_pairs(tmp_path / "pairs.jsonl"))
    out = tmp_path / "model"
    report = finetune(
        data, out, Settings(data_dir=tmp_path), "test", epochs=3, batch_size=3, learning_rate=1e-4
    )
    assert report.pairs == 6 and report.steps == 6
    provenance = json.loads((out / "policyqa-finetune.json").read_text())
    assert provenance["base_model"] == Settings().embedding_model and provenance["source"] == "test"
    assert not (tmp_path / "model.partial").exists()
    before = _gold_similarity(Settings().embedding_model, tmp_path / "a")
    after = _gold_similarity(str(out), tmp_path / "b")
    assert after > before + 0.02, (before, after)


def test_cli_refuses_unclear_sources_and_existing_folders(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["finetune", str(tmp_path / "m")])
    assert result.exit_code == 2 and "exactly one of --beir" in result.output
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("keep me")
    pairs = _write_pairs(tmp_path / "pairs.jsonl")
    result = runner.invoke(app, ["finetune", str(taken), "--pairs", str(pairs)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (taken / "x").read_text() == "keep me"
