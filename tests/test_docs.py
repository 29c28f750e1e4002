"""The documentation says what the code does: the configuration reference is the settings'
own, every value the pages show starts the service, and every page and picture is reachable
from the README."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from service.settings import Settings
from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", DOCS / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_is_generated_from_the_settings() -> None:
    """docs/configuration.md is what docs/config_reference.py prints: a setting added, a
    default or a description changed without `make docs` fails here."""
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert page == _generator().render(), (
        "docs/configuration.md differs from the settings: run `make docs` and commit it"
    )


def test_the_reference_has_a_row_for_every_setting() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(POLICYQA_[A-Z0-9_]+)` \|", page, re.MULTILINE))
    expected = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and hasattr(group, "model_fields"):
            expected |= {f"POLICYQA_{name}__{sub}".upper() for sub in group.model_fields}
        else:
            expected.add(f"POLICYQA_{name}".upper())
    assert documented == expected


_ROW = re.compile(
    r"^\| `(POLICYQA_[A-Z0-9_]+)`(?: / `__([A-Z0-9_]+)`)? \| `([^`]*)`(?: / `([^`]*)`)? \|"
)


def test_every_value_the_documentation_shows_starts_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each configuration row of the README and docs/ whose value is literal (`…`) is
    accepted by the one settings object (a name the code does not know fails)."""
    rows = [_ROW.match(line) for page in PAGES for line in page.read_text("utf-8").splitlines()]
    checked = 0
    for row in filter(None, rows):
        name, second, value, second_value = row.groups()
        pairs = [(name, value)]
        if second and second_value is not None:
            pairs.append((name.rsplit("__", 1)[0] + "__" + second, second_value))
        for env, text in pairs:
            with monkeypatch.context() as patched:
                patched.setenv(env, text)
                settings = Settings()
                path = env.removeprefix("POLICYQA_").lower().split("__")
                known: object = settings
                for part in path:
                    assert hasattr(known, part), f"{env}: the settings have no {part!r}"
                    known = getattr(known, part)
                checked += 1
    assert checked >= 30


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def _links(page: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8")))


def test_every_page_is_linked_from_the_readme() -> None:
    linked = {
        (ROOT / target.split("#")[0]).resolve()
        for target in _links(ROOT / "README.md")
        if not target.startswith(("http://", "https://", "#"))
    }
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert unlinked == [], "docs pages the README does not link to"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_picture_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists() or (path.suffix == ".md" and anchor not in _anchors(path) | {""}):
            broken.append(target)
    assert broken == []
