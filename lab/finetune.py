"""``policyqa-lab finetune``: adapt the embedding model to a domain from question → passage pairs.

All-MiniLM-L6-v2 was trained on web text; on regulatory prose its dense list trails BM25
(ObliQA Recall@10 0.685 against 0.776). A few thousand labelled pairs from the domain
close much of that gap. Training is contrastive (multiple-negatives ranking loss): each
question against its passage, the other passages of its batch, and one hard negative
that BM25 ranks high for the question but that is not gold. The result is an ordinary
sentence-transformers folder: point ``POLICYQA_EMBEDDING_MODEL`` at it and re-ingest.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest import sparse
from ingest.embedding import resolve_model_path
from ingest.payloads import embedding_text
from lab.bench import load_beir
from service.settings import Settings

HARD_POOL = 10  # a hard negative is drawn from BM25's first ten non-gold passages
SCALE = 20.0  # cosine similarities × this are the logits (sentence-transformers' default)


class TrainingDataError(ValueError):
    """The pairs cannot be read, or there are too few to train on."""


@dataclass(frozen=True)
class TrainingSet:
    """Questions, the passages they may be matched against, and each question's gold."""

    questions: list[str]
    passages: list[str]
    gold: list[frozenset[int]]

    def pairs(self) -> list[tuple[int, int]]:
        return [(q, p) for q, gold in enumerate(self.gold) for p in sorted(gold)]


@dataclass(frozen=True)
class FinetuneReport:
    """What was trained, from what, and how long it took (also saved beside the model)."""

    base_model: str
    source: str
    questions: int
    pairs: int
    passages: int
    epochs: float
    batch_size: int
    learning_rate: float
    seed: int
    steps: int
    seconds: float
    last_loss: float
    out: str


def from_beir(folder: Path, split: str) -> TrainingSet:
    """The judged questions of a BEIR split, against the whole corpus."""
    data = load_beir(folder, split)
    position = {str(r["_id"]): i for i, r in enumerate(data.corpus)}
    passages = [
        embedding_text(str(r.get("title") or ""), str(r.get("text", ""))) for r in data.corpus
    ]
    questions, gold = [], []
    for qid, text in data.queries.items():
        judged = frozenset(
            position[d]
            for d, grade in data.qrels[qid].items()
            if grade > 0 and d in position and passages[position[d]].strip()
        )
        if judged:
            questions.append(text)
            gold.append(judged)
    return _checked(TrainingSet(questions, passages, gold), f"{folder} ({split})")


def from_jsonl(path: Path) -> TrainingSet:
    """``{"question": ..., "passage": ...}`` lines; a question may have several passages."""
    passages: dict[str, int] = {}
    gold: dict[str, set[int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question, passage = str(record["question"]).strip(), str(record["passage"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise TrainingDataError(
                f"{path}:{number}: expected a JSON object with 'question' and 'passage' ({exc})"
            ) from None
        if not question or not passage:
            raise TrainingDataError(f"{path}:{number}: empty question or passage")
        gold.setdefault(question, set()).add(passages.setdefault(passage, len(passages)))
    texts = [embedding_text("", p) for p in passages]
    return _checked(
        TrainingSet(list(gold), texts, [frozenset(g) for g in gold.values()]), str(path)
    )


def _checked(data: TrainingSet, source: str) -> TrainingSet:
    if len(data.pairs()) < 2:
        raise TrainingDataError(f"{source}: fewer than two question → passage pairs")
    return data


def hard_negatives(data: TrainingSet, depth: int = HARD_POOL) -> list[list[int]]:
    """Per question, BM25's best non-gold passages, best first."""
    # The store's BM25, normalised by these passages' mean length (they are whole
    # records, longer than the chunks the store's fixed average is set for).
    index = sparse.MemoryIndex.build(data.passages, average=sparse.mean_length(data.passages))
    out: list[list[int]] = []
    for start in range(0, len(data.questions), 256):  # 256 rows of scores at a time
        questions = data.questions[start : start + 256]
        scores = index.scores(questions)
        for row, gold in zip(scores, data.gold[start : start + 256], strict=True):
            ranked = np.argsort(-row, kind="stable")[: depth + len(gold)]
            out.append([int(p) for p in ranked if row[p] > 0 and p not in gold][:depth])
    return out


def finetune(
    data: TrainingSet,
    out: Path,
    settings: Settings,
    source: str,
    epochs: float = 2.0,
    batch_size: int = 32,
    learning_rate: float = 3e-5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> FinetuneReport:
    """Train from ``settings.embedding_model`` and save the model to ``out``.

    The model is written to ``out`` only when training has finished (a stopped run
    leaves no half-trained folder where a model is expected).
    """
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    pairs = data.pairs()
    batch_size = min(batch_size, len(pairs))
    negatives = hard_negatives(data)
    model = SentenceTransformer(
        resolve_model_path(settings.embedding_model), device=settings.device
    )
    model.train()
    steps = max(1, int(len(pairs) * epochs / batch_size))
    optimizer, schedule = _optimizer(model, learning_rate, steps)
    encode = _encoder(model)

    started, step, loss_value = time.perf_counter(), 0, float("nan")
    while step < steps:
        rng.shuffle(pairs)
        for start in range(0, len(pairs) - batch_size + 1, batch_size):
            if step >= steps:
                break
            batch = pairs[start : start + batch_size]
            hard = [_hard_negative(negatives[q], data, rng) for q, _ in batch]
            loss = _batch_loss(encode, data, batch, hard)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            loss_value = float(loss.item())
            if progress and (step % 10 == 0 or step == steps):
                elapsed = time.perf_counter() - started
                progress(f"step {step}/{steps} loss {loss_value:.3f} {elapsed:.0f} s")
    model.eval()
    report = FinetuneReport(
        base_model=settings.embedding_model,
        source=source,
        questions=len(data.questions),
        pairs=len(pairs),
        passages=len(data.passages),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        steps=steps,
        seconds=round(time.perf_counter() - started, 1),
        last_loss=round(loss_value, 4),
        out=str(out),
    )
    _save(model, out, report)
    return report


def _optimizer(model: Any, learning_rate: float, steps: int) -> tuple[Any, Any]:
    """AdamW with a linear warm-up over the first tenth of the steps, then linear decay."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps)
    )
    return optimizer, schedule


def _encoder(model: Any) -> Callable[[list[str]], Any]:
    """Texts → the model's normalised embeddings, with gradients (training mode)."""
    import torch
    import torch.nn.functional as F

    def encode(texts: list[str]) -> Any:
        features = {
            key: value.to(model.device) if isinstance(value, torch.Tensor) else value
            for key, value in model.preprocess(texts).items()
        }
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    return encode


def _batch_loss(
    encode: Callable[[list[str]], Any],
    data: TrainingSet,
    batch: list[tuple[int, int]],
    hard: list[int],
) -> Any:
    """In-batch contrastive loss: each question against every passage of the batch and
    the hard negatives; another question's passage that is gold for this one too is no
    negative."""
    import torch
    import torch.nn.functional as F

    logits = SCALE * (
        encode([data.questions[q] for q, _ in batch])
        @ encode([data.passages[p] for _, p in batch] + [data.passages[h] for h in hard]).T
    )
    for row, (question, _) in enumerate(batch):
        for col, (_, passage) in enumerate(batch):
            if col != row and passage in data.gold[question]:
                logits[row, col] = -1e4
        for col, passage in enumerate(hard, start=len(batch)):
            if passage in data.gold[question]:
                logits[row, col] = -1e4
    return F.cross_entropy(logits, torch.arange(len(batch), device=logits.device))


def _save(model: Any, out: Path, report: FinetuneReport) -> None:
    """The model and its report into ``out``, which appears only once both are written."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(str(partial))
    (partial / "policyqa-finetune.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    partial.rename(out)


def _hard_negative(candidates: list[int], data: TrainingSet, rng: random.Random) -> int:
    if candidates:
        return rng.choice(candidates)
    return rng.randrange(len(data.passages))
