"""The sections of a document that answer a question.

A question about one document is usually about one of its parts: an article, a section,
a chapter. Each section of the document's outline (``ingest.outline``) is scored by how
much of the document's own retrieval evidence falls inside it (the share of the fused
score of its best passages) and by how much of the question its heading and the titles
above it hold (question terms weighted by how few of the document's headings use them;
the document's own name does not count). A section is chosen by its heading: only a heading
that holds a good share of the question makes its section the answer's. The chosen section
is read whole (a long one: its own best passages first), so an article's list or a
section's argument reaches the answer in full, not only the passages that happened to
rank.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence

from ingest import sparse
from ingest.outline import Section
from service.retrieval import Candidate

EVIDENCE_DEPTH = 20
"""The document's best passages whose fused score says where the answer is."""
MAX_SECTION = 12_000
"""A longer section is a part of the document, not an answer: it is not read whole, but
its own best passages lead."""
MASS_WEIGHT = 0.5
"""How much the retrieval evidence inside a section counts (all of it: half a heading)."""
SIMILARITY_WEIGHT = 2.0
"""How much a heading's cosine to the question counts (it separates headings that share
the question's words)."""
MIN_STEM = 5
"""Stems this long that start one another are one word ("defin", "definit")."""
MIN_HEADING = 0.4
"""A section is chosen by its heading only when that holds this share of the question."""
MIN_CLAUSE_TERMS = 2
"""A clause of the question picks a section of its own when it has this many terms and
the section's heading holds this many of them."""
MAX_PARTS = 2
"""Sections a question of several clauses is answered from, at most."""
_CLAUSES = re.compile(r"[,;?，；？]|\b(?:and|including|as well as|such as)\b|以及|包括")
"""Where a question's clauses part."""


def best_sections(
    question: str,
    sections: Sequence[Section],
    ranked: Sequence[Candidate],
    name: frozenset[str] = frozenset(),
    similarity: Sequence[float] | None = None,
    heading_terms: Sequence[frozenset[str]] | None = None,
    clause_similarity: Sequence[Sequence[float]] | None = None,
) -> list[Section]:
    """The sections that answer the question: the one whose heading holds the question,
    or, for a question of several clauses ("the limits of pre-deployment testing and the
    structured public feedback methods"), the one each clause's words pick, in the
    question's order (at most ``MAX_PARTS``). ``clause_similarity``: each of
    :func:`clauses`' headings cosines, as ``similarity`` is the whole question's."""
    if not sections or not ranked:
        return []
    forms = {t: f for t, f in sparse.question_terms(question).items() if t not in name}
    known = heading_terms if heading_terms is not None else [heading_terms_of(s) for s in sections]
    found = _matching(forms, frozenset().union(*known))
    headings = [frozenset(t for t, held in found.items() if held & terms) for terms in known]
    n = len(sections)
    weights = {t: math.log(1 + n / (0.5 + sum(1 for h in headings if t in h))) for t in forms}
    top = ranked[:EVIDENCE_DEPTH]
    mass_total = sum(c.fused for c in top) or 1.0
    mass = [
        sum(c.fused for c in top if section.start <= c.span[0] < section.end) / mass_total
        for section in sections
    ]

    def pick(terms: set[str], cosines: Sequence[float] | None, least: int = 1) -> int | None:
        total = sum(weights[t] for t in terms) or 1.0
        best, best_score = None, -1.0
        for i, heading in enumerate(headings):
            held = sum(weights[t] for t in terms & heading) / total
            if held < MIN_HEADING or len(terms & heading) < least:
                continue
            close = cosines[i] if cosines is not None else 0.0
            score = held + MASS_WEIGHT * mass[i] + SIMILARITY_WEIGHT * close
            if score > best_score:
                best, best_score = i, score
        return best

    chosen: list[int] = []
    for n, clause in enumerate(clauses(question, name)):
        terms = {t for t in sparse.tokenize(clause) if t in forms}
        cosines = clause_similarity[n] if clause_similarity is not None else None
        i = pick(terms, cosines, MIN_CLAUSE_TERMS)
        if i is not None and i not in chosen:
            chosen.append(i)
    whole = pick(set(forms), similarity)
    if whole is not None and len(chosen) < 2:
        return [sections[whole]]
    return [sections[i] for i in chosen[:MAX_PARTS]]


def clauses(question: str, name: frozenset[str] = frozenset()) -> list[str]:
    """The clauses of a question that may each ask about a part of the document (those
    with ``MIN_CLAUSE_TERMS`` terms besides the document's name); none for a question
    of one clause."""
    parts = [
        part.strip()
        for part in _CLAUSES.split(question)
        if len([t for t in sparse.tokenize(part) if t not in name]) >= MIN_CLAUSE_TERMS
    ]
    return parts if len(parts) > 1 else []


def heading_terms_of(section: Section) -> frozenset[str]:
    """Index terms of a section's heading and the titles above it."""
    return frozenset(sparse.tokenize(f"{section.context} {section.heading}"))


def _matching(
    forms: dict[str, frozenset[str]], vocabulary: frozenset[str]
) -> dict[str, frozenset[str]]:
    """Each question term → the heading terms that are the same word: itself, a
    translation, or a stem matching its longer or shorter form ("define" → "defin" and
    "Definitions" → "definit"; "apply" and "application")."""
    return {
        term: frozenset(
            held
            for held in vocabulary
            if held in variants
            or (
                min(len(held), len(term)) >= MIN_STEM
                and (held.startswith(term) or term.startswith(held))
            )
        )
        for term, variants in forms.items()
    }


def section_at(sections: Sequence[Section], offset: int) -> str | None:
    """The label of the section holding a document offset (None: before the first)."""
    starts = [s.start for s in sections]
    i = bisect.bisect_right(starts, offset) - 1
    if i < 0 or offset >= sections[i].end:
        return None
    return sections[i].label
