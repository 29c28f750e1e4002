"""How much of the Chinese documents' vocabulary the glossary can translate.

Usage: python benchmarks/glossary_coverage.py [CORPORA_DIR] [--missing N]

Tokenises every Chinese document (``*.zh.*``) as the index does, and prints one JSON line:
the share of word occurrences with a glossary entry, the share of distinct words, and
with ``--missing N`` the N most widespread words (by passages containing them) that have
none: the list a glossary pass starts from.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from ingest import crosslingual
from ingest.sparse import tokenize

CORPORA = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", type=Path, nargs="?", default=CORPORA)
    parser.add_argument("--missing", type=int, default=0)
    args = parser.parse_args()
    files = sorted(args.corpora.glob("*.zh.*"))
    if not files:
        raise SystemExit(f"no Chinese documents (*.zh.*) in {args.corpora}")
    covered = {t for phrase in crosslingual.glossary(tokenize) for t in phrase}
    occurrences: Counter[str] = Counter()
    passages: Counter[str] = Counter()
    for path in files:
        text = path.read_text(encoding="utf-8")
        for passage in re.split(r"\n\s*\n|(?<=。)", text):
            words = [t for t in tokenize(passage) if crosslingual.is_chinese(t)]
            occurrences.update(words)
            passages.update(set(words))
    total = sum(occurrences.values())
    report = {
        "documents": len(files),
        "words": len(occurrences),
        "occurrences_covered": round(sum(occurrences[w] for w in covered) / total, 3),
        "words_covered": round(len(covered & occurrences.keys()) / len(occurrences), 3),
    }
    if args.missing:
        report["missing"] = [
            [w, n] for w, n in passages.most_common() if w not in covered and len(w) > 1
        ][: args.missing]
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
