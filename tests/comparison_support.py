"""Three small catalogued documents a comparison can set side by side, for the tests of
how sides are shown (the web page, Slack, the Markdown batch report).

Each is named by its title in ``QUESTION`` and says something about labelling generated
content (a document that does not is a side saying so: ``tests/service/test_revocations``),
one (the Lighthouse AI Code) with markup in the words a point quotes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.embedding import PolicyEmbedding
from ingest.manifest import ManifestEntry
from service.container import Services, build_services
from service.settings import Settings

HTML = "<img src=x onerror=alert(1)>"
DOCUMENTS: dict[str, tuple[str, str, str]] = {
    "harbour-drone-act.md": (
        "Harbour Drone Act",
        "2021-04-12",
        """# Harbour Drone Act

## Section 1. Scope

This Act governs drones flown over the harbour and the AI systems that steer them.

## Section 2. Labelling

Every image or video that a drone's AI system generates shall carry a visible label saying \
it was made by a machine. An operator who publishes an unlabelled image shall pay a fine of \
500 crowns.

## Section 3. Flights

Drones shall not fly over the harbour at night.
""",
    ),
    "lighthouse-ai-code.md": (
        "Lighthouse AI Code",
        "2023-03-01",
        f"""# Lighthouse AI Code

## Article 1. Purpose

This Code sets out duties for providers of generative AI services in the coastal district.

## Article 2. Labelling of generated content

Providers shall label AI-generated text, images and audio with a watermark that software \
can read {HTML}. Providers shall also tell users plainly when a chatbot, not a person, is \
answering them.

## Article 3. Complaints

Users may complain to the Lighthouse Board, which shall answer within 30 days.
""",
    ),
    "model-registry-order.md": (
        "Model Registry Order",
        "2025-06-01",
        """# Model Registry Order

## Section 1. Purpose

Frontier models shall be known to the government before they are deployed in critical \
infrastructure.

## Section 2. Duties

Agency heads shall register every frontier model they procure with the Model Registry \
within 30 days. Agency heads shall publish an annual summary of the registered models and \
their evaluations. A registered model's AI-generated content shall carry the label its \
registry entry assigns.

## Section 3. General provisions

Nothing in this order creates any right enforceable at law.
""",
    ),
}
QUESTION = (
    "How do the Harbour Drone Act, the Lighthouse AI Code and the Model Registry Order "
    "differ on labelling AI-generated content?"
)
LABELS = [
    "Harbour Drone Act (2021-04-12)",
    "Lighthouse AI Code (2023-03-01)",
    "Model Registry Order (2025-06-01)",
]
"""The sides ``QUESTION`` names, in its order, each with its document's date."""
SINGLE = "What does the Lighthouse AI Code say about complaints?"
"""A question about one of them: no sides."""


def compared_services(data: Path, files: Path, embedder: PolicyEmbedding) -> Iterator[Services]:
    """Services over an embedded store of their own holding the three documents, each
    with its catalogue entry (title, date); closed at the end."""
    services = build_services(Settings(data_dir=data), embedder=embedder)
    catalog = {}
    paths = []
    for name, (title, date, text) in DOCUMENTS.items():
        path = files / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
        catalog[name] = ManifestEntry(
            file=name, title=title, date=date, publisher="Test Office", kind="official"
        )
    services.library.catalog = {**services.library.catalog, **catalog}
    try:
        summary = services.library.ingest(paths, progress=False)
        assert summary.failed == 0 and summary.added == len(DOCUMENTS), summary
        yield services
    finally:
        services.close()
