"""What PolicyQA knows of the stored documents as a whole: their current versions,
sizes, names, and the wording many of them share.

Names tell which documents a question is about. "Under the EU AI Act", "the July 2025
executive order on data-center permitting", "NIST's generative AI profile", "in the talk":
a question often says which document it is about. A document's *name* is its title,
publisher, date (year and month) and, for a transcript, the words people use for one
(talk, speaker). The share of a question's
information (its terms weighted by how few stored documents' names hold them) that a
document's name accounts for is that document's name score, 0 to 1.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar, cast

import numpy as np

from ingest import sparse
from ingest.manifest import ManifestEntry
from ingest.outline import Section, outline
from ingest.schema import PayloadKey, point_id_of
from service.catalogue import MONTHS, Catalogue
from service.revocations import revocations
from service.sections import heading_terms_of

T = TypeVar("T")

SHARED_BY = 3
"""Documents a sentence must appear in to count as boilerplate."""
KIND_WORDS = {"transcript": "talk speaker speakers transcript said says"}
"""How questions refer to a document of a kind, whatever its title."""


def name_terms(payload: dict[str, Any], extra: str = "") -> frozenset[str]:
    """Index terms of a document's name (title, publisher, date, kind words, and the
    catalogue's ``extra`` words: aliases, issuers, jurisdiction)."""
    return _name_terms(
        str(payload.get(PayloadKey.TITLE) or ""),
        str(payload.get(PayloadKey.PUBLISHER) or ""),
        str(payload.get(PayloadKey.DATE) or ""),
        str(payload.get(PayloadKey.KIND) or ""),
        extra,
    )


@lru_cache(maxsize=4096)
def _name_terms(title: str, publisher: str, date: str, kind: str, extra: str) -> frozenset[str]:
    words = [title, publisher, KIND_WORDS.get(kind, ""), extra]
    year, _, rest = date.partition("-")
    if year.isdigit():
        words.append(year)
        month = rest[:2]
        if month.isdigit() and 1 <= int(month) <= 12:
            words.append(MONTHS[int(month) - 1])
    return frozenset(sparse.tokenize(" ".join(words)))


class CorpusFacts:
    """The names of every stored document (and how rare each name term is among them),
    each document's number of chunks, and the sentences several documents share."""

    def __init__(
        self,
        records: Iterable[dict[str, Any]],
        manifest: dict[str, ManifestEntry] | None = None,
    ) -> None:
        records = list(records)
        self.catalogue = Catalogue(records, manifest)
        """Each document's names, jurisdiction and issuers (``service.catalogue``)."""
        self.revoked = revocations(records, self.catalogue)
        """Each document another document of the corpus revokes (``service.revocations``)."""
        self.versions = {
            str(r[PayloadKey.DOC_ID]): str(r.get(PayloadKey.CONTENT_HASH) or "") for r in records
        }
        """Each document's current version: the only one whose chunks are served."""
        self.terms = {
            str(r[PayloadKey.DOC_ID]): name_terms(
                r, self.catalogue.extra_name_words(str(r[PayloadKey.DOC_ID]))
            )
            for r in records
        }
        self.chunk_counts = {
            str(r[PayloadKey.DOC_ID]): int(r.get(PayloadKey.CHUNK_COUNT) or 0) for r in records
        }
        seen = Counter(f for r in records for f in r.get(PayloadKey.FINGERPRINTS) or [])
        shared = {f for f, n in seen.items() if n >= SHARED_BY}
        self.shared_wording = frozenset(
            shared.union(
                piece
                for r in records
                for piece, whole in r.get(PayloadKey.FINGERPRINT_PIECES) or []
                if whole in shared
            )
        )
        """Fingerprints of sentences found in ``SHARED_BY`` or more documents: boilerplate
        such as an executive order's "General Provisions", never an answer (and of the
        pieces a page break cuts such a sentence into)."""
        self.counts: Counter[str] = Counter(t for terms in self.terms.values() for t in terms)
        self._derived: _Kept = _Kept(DERIVED_DOCUMENTS)

    def outline(self, doc_id: str, read: Callable[[str], str]) -> list[Section]:
        """A document's sections (``ingest.outline``; ``read`` fetches its text), kept for
        its current version."""
        return self._derived.get(("outline", *self._version(doc_id)), lambda: outline(read(doc_id)))

    def heading_vectors(
        self, doc_id: str, sections: list[Section], embed: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """Each section's heading (with the titles above it) embedded once per version."""
        return self._derived.get(
            ("headings", *self._version(doc_id)),
            lambda: embed([f"{s.context} {s.heading}".strip() for s in sections]),
        )

    def heading_terms(self, doc_id: str, sections: list[Section]) -> list[frozenset[str]]:
        """Each section heading's index terms, once per version."""
        return self._derived.get(
            ("heading terms", *self._version(doc_id)),
            lambda: [heading_terms_of(s) for s in sections],
        )

    def chunk_spans(
        self, doc_id: str, read: Callable[[str], Iterable[dict[str, Any]]]
    ) -> list[tuple[int, int, str]]:
        """Each chunk of a document's current version as (start, end, point id), in
        order (``read`` lists the document's chunk payloads)."""
        version = self.versions.get(doc_id, "")
        return self._derived.get(
            ("chunks", doc_id, version),
            lambda: sorted(
                (int(p[PayloadKey.START_CHAR]), int(p[PayloadKey.END_CHAR]), point_id_of(p))
                for p in read(doc_id)
                if str(p.get(PayloadKey.CONTENT_HASH) or "") in ("", version)
            ),
        )

    def document_terms(self, doc_id: str, read: Callable[[str], str]) -> frozenset[str]:
        """Every index term of a document's text (``read`` fetches the text), kept for the
        document's current version."""
        return self._derived.get(
            ("terms", *self._version(doc_id)),
            lambda: frozenset(sparse.tokenize(read(doc_id))),
        )

    def _version(self, doc_id: str) -> tuple[str, str]:
        return doc_id, self.versions.get(doc_id, "")

    def serves(
        self,
        payload: dict[str, Any],
        reread: Callable[[str], dict[str, Any] | None],
    ) -> bool:
        """Whether a chunk belongs to its document's current version (a chunk written by
        something else than PolicyQA's ingest, without a version, always does).

        A version this view does not know is checked against the stored record
        (``reread``), which another process or a running ingest may have changed.
        """
        version = payload.get(PayloadKey.CONTENT_HASH)
        if not version:
            return True
        doc_id = str(payload[PayloadKey.DOC_ID])
        if self.versions.get(doc_id) == version:
            return True
        record = reread(doc_id)
        self.versions[doc_id] = str(record.get(PayloadKey.CONTENT_HASH) or "") if record else ""
        return bool(self.versions[doc_id] == version)

    def scores(self, question: str, doc_ids: Iterable[str]) -> dict[str, float]:
        """Each of ``doc_ids`` → the share of the question its name covers.

        Terms are weighted by how few document names hold them, so "executive order"
        says little among ten executive orders and "permitting" a lot. A term counts
        through its glossary translations too (an English question names a Chinese plan).
        """
        forms = list(sparse.question_terms(question).values())
        n = len(self.terms)
        if not forms or not n:
            return {}
        weight = [
            max(math.log(1 + n / (0.5 + self.counts[t])) for t in variants) for variants in forms
        ]
        total = sum(weight)
        result = {}
        for doc_id in doc_ids:
            name = self.terms.get(doc_id, frozenset())
            found = sum(w for w, variants in zip(weight, forms, strict=True) if variants & name)
            result[doc_id] = found / total
        return result


DERIVED_DOCUMENTS = 256
"""What is derived from a document's text (outline, heading vectors, chunk spans, terms)
is kept for this many documents, the least recently used dropped first."""


class _Kept:
    """A small thread-safe least-recently-used store of values derived from documents."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._values: OrderedDict[tuple[str, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return cast(T, self._values[key])
        value = make()  # outside the lock: reading a document may take a while
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.limit * 5:  # five kinds of value per document
                self._values.popitem(last=False)
        return value
