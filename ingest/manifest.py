"""Corpus manifests: ``corpora/*.toml`` files naming documents and their facts.

A manifest lists documents, not copies of them::

    [[document]]
    file = "us-ai-action-plan-2025.pdf"
    title = "America's AI Action Plan"
    publisher = "The White House"
    date = "2025-07-23"
    language = "en"
    kind = "official"
    license = "Public domain (US government work)"
    url = "https://..."
    sha256 = "..."
    aliases = ["AI Action Plan"]        # other names people use: short titles, numbers
    jurisdiction = "United States"      # whose document it is
    people = ["Trump"]                  # who issued or signed it

Ingestion uses the facts to title documents it finds by file name; ``policyqa fetch``
downloads the ``url`` of each entry into the local cache.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class ManifestError(ValueError):
    """A manifest file that cannot be read."""


class ManifestEntry(BaseModel):
    """One document of a corpus."""

    file: str = Field(description="File name the document is cached and recognised under.")
    text_file: str | None = Field(None, description="Plain-text edition's file name, if any.")
    title: str
    publisher: str | None = None
    date: str | None = None
    language: str = "en"
    kind: str = "official"
    license: str | None = None
    url: str | None = Field(None, description="Where `policyqa fetch` downloads it from.")
    sha256: str | None = Field(None, description="Expected checksum of the downloaded bytes.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names of the document: short titles, nicknames, official numbers.",
    )
    jurisdiction: str | None = Field(
        None, description="Whose document it is: a country, union or body (United States, EU)."
    )
    people: list[str] = Field(
        default_factory=list, description="Who issued or signed it (a president, an author)."
    )


def load_manifest(path: Path) -> list[ManifestEntry]:
    """Parse one manifest file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return [ManifestEntry.model_validate(item) for item in data.get("document", [])]
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def load_catalog(folder: Path) -> dict[str, ManifestEntry]:
    """Every entry of every manifest in ``folder``, keyed by file name."""
    catalog: dict[str, ManifestEntry] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            for entry in load_manifest(path):
                catalog[Path(entry.file).name] = entry
                if entry.text_file:
                    catalog[Path(entry.text_file).name] = entry
    return catalog
