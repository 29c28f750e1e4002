"""Which stored document a file is: one identity for disk files, uploads and ``--api``.

A document's identity is decided once, when it is first stored, and kept in its record
(``PayloadKey.IDENTITY``):

* a file the catalogue names (``corpora/*.toml``): ``catalog:<file name>``;
* any other file: ``content:<file name>:<SHA-256 of its first version's text>``.

Its doc id is a slug of the file name plus a hash of that identity, so the same document
gets the same id from any folder, machine or store. A file is matched to a stored
document in this order:

1. its catalogue identity, when the file is catalogued;
2. a path the document was read from before: an edit in place is a new version;
3. the same text under the same file name (a copy, a moved or re-cloned checkout, an
   upload of a file ingested from disk): the same document, its new location recorded;
4. an upload named as a document uploaded before: a new version of that document.

Records written before identities existed (doc id = file name + hash of its absolute
path) keep their ids: the first ingest to open such a store records their text hash and
location (``Identities.load``), and from then on they are matched like any other. Copies
such a store holds twice (one file ingested from two folders) are merged into the first
stored; the others' ids become its ``aliases``, so a citation of them still finds it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.schema import PayloadKey
from ingest.store import PolicyStore

logger = logging.getLogger(__name__)

CATALOG = "catalog:"


@dataclass
class Known:
    """What identifies one stored document."""

    doc_id: str
    file_name: str
    identity: str | None
    text_hash: str | None
    locations: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    ingested_at: str = ""

    @property
    def catalogue_name(self) -> str | None:
        """The catalogue file name this document is, if it is a catalogued one."""
        if self.identity and self.identity.startswith(CATALOG):
            return self.identity.removeprefix(CATALOG)
        return None


def text_hash_of(text: str) -> str:
    """SHA-256 of a document's stored text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def catalogue_identity(file_name: str) -> str:
    """The identity of a catalogued file."""
    return f"{CATALOG}{file_name}"


def content_identity(file_name: str, text_hash: str) -> str:
    """The identity of an uncatalogued file first stored with this text."""
    return f"content:{file_name}:{text_hash}"


def slug_id(file_name: str, key: str) -> str:
    """A URL-safe doc id: a readable slug of the file name plus a hash of ``key``."""
    slug = re.sub(r"[^a-z0-9]+", "-", Path(file_name).stem.lower()).strip("-")[:48] or "doc"
    return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def legacy_doc_id(path: Path) -> str:
    """The doc id stores made before identities gave a file: its name plus a hash of its
    absolute path (such documents keep it)."""
    return slug_id(path.name, str(path.resolve()))


def upload_root(data_dir: Path) -> Path:
    """Where uploaded files are kept (``POST /v1/documents``), resolved."""
    return (data_dir / "uploads").resolve()


def locations_of(record: dict[str, Any]) -> list[str]:
    """Every path a record says its document was read from (old records: their source)."""
    stored = record.get(PayloadKey.LOCATIONS)
    if isinstance(stored, list) and stored:
        return [str(p) for p in stored]
    source = record.get(PayloadKey.SOURCE)
    return [str(source)] if source else []


class Identities:
    """The stored documents' identities, to match files against during one ingest run."""

    def __init__(self, records: Iterable[Known], uploads: Path | None = None) -> None:
        self._uploads = uploads
        self._by_id: dict[str, Known] = {}
        for known in records:
            self.remember(known)

    @classmethod
    def load(cls, store: PolicyStore, uploads: Path | None = None) -> Identities:
        """Every record's identity; records made before identities get their text hash
        and location written once (their doc ids never change)."""
        found = []
        for record in store.iter_documents(with_text=False):
            known = _known(record)
            if known.text_hash is None:
                known = _migrate(store, known)
            found.append(known)
        return cls(merge_copies(store, found), uploads)

    def remember(self, known: Known) -> None:
        """Add or replace a document's identity (after it is written)."""
        self._by_id[known.doc_id] = known

    def get(self, doc_id: str) -> Known | None:
        """A stored document's identity, by its id."""
        return self._by_id.get(doc_id)

    def match(self, path: Path, file_name: str, text_hash: str, catalogued: bool) -> Known | None:
        """The stored document this file is (see the module's order), or None."""
        where = str(path.resolve())
        docs = list(self._by_id.values())
        upload = self._is_upload(where)
        for step in range(4):
            if (step == 0 and not catalogued) or (step == 3 and not upload):
                continue
            hits = [k for k in docs if self._matches(step, k, where, file_name, text_hash)]
            if hits:
                return hits[-1]
        return None

    def _matches(self, step: int, known: Known, where: str, file_name: str, text: str) -> bool:
        if step == 0:
            return known.identity == catalogue_identity(file_name)
        if step == 1:
            return where in known.locations
        if step == 2:
            return known.text_hash == text and known.file_name == file_name
        return known.file_name == file_name and self._uploaded(known)

    def new_doc_id(self, path: Path, identity: str) -> str:
        """The id of a new document: from its identity, or (when that id is taken by a
        document the file is not, e.g. one since edited) from its identity and path."""
        doc_id = slug_id(path.name, identity)
        if doc_id in self._by_id:
            doc_id = slug_id(path.name, f"{identity}|{path.resolve()}")
        return doc_id

    def _is_upload(self, where: str) -> bool:
        return self._uploads is not None and Path(where).is_relative_to(self._uploads)

    def _uploaded(self, known: Known) -> bool:
        return any(self._is_upload(p) for p in known.locations)


def merge_copies(store: PolicyStore, found: list[Known]) -> list[Known]:
    """One document for each text under one file name: the others (copies stored before
    identities) are merged into the one kept (catalogued first, then the earliest), their
    places and ids kept by it. Its record is written before a copy is deleted, so a run
    stopped between the two merges again next time."""
    groups: dict[tuple[str, str], list[Known]] = {}
    for known in found:
        if known.text_hash:
            groups.setdefault((known.text_hash, known.file_name), []).append(known)
    dropped: set[str] = set()
    for group in groups.values():
        if len(group) < 2:
            continue
        kept, *copies = sorted(group, key=lambda k: (not k.catalogue_name, k.ingested_at))
        for copy in copies:
            kept.locations += [p for p in copy.locations if p not in kept.locations]
            kept.aliases += [a for a in (copy.doc_id, *copy.aliases) if a not in kept.aliases]
        store.update_document(
            kept.doc_id,
            {str(PayloadKey.LOCATIONS): kept.locations, str(PayloadKey.ALIASES): kept.aliases},
        )
        for copy in copies:
            store.delete_document(copy.doc_id)
            dropped.add(copy.doc_id)
            logger.info("merged doc_id=%s into doc_id=%s", copy.doc_id, kept.doc_id)
    return [k for k in found if k.doc_id not in dropped]


def _known(record: dict[str, Any]) -> Known:
    identity = record.get(PayloadKey.IDENTITY)
    text_hash = record.get(PayloadKey.TEXT_HASH)
    return Known(
        doc_id=str(record[PayloadKey.DOC_ID]),
        file_name=str(record.get(PayloadKey.FILE_NAME, "")),
        identity=str(identity) if identity else None,
        text_hash=str(text_hash) if text_hash else None,
        locations=locations_of(record),
        aliases=[str(a) for a in record.get(PayloadKey.ALIASES) or []],
        ingested_at=str(record.get(PayloadKey.INGESTED_AT) or ""),
    )


def _migrate(store: PolicyStore, known: Known) -> Known:
    """Give a record from before identities its text hash and location."""
    full = store.get_document(known.doc_id, with_text=True) or {}
    text = full.get(PayloadKey.DOC_TEXT)
    if not isinstance(text, str):
        return known
    known.text_hash = text_hash_of(text)
    store.update_document(
        known.doc_id,
        {str(PayloadKey.TEXT_HASH): known.text_hash, str(PayloadKey.LOCATIONS): known.locations},
    )
    logger.info("recorded identity of doc_id=%s (stored before identities)", known.doc_id)
    return known
