"""Helpers the reliability scripts share: a server on loopback, a store's content hash,
and PDF files made from scratch (no PDF library writes text here)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import serving  # noqa: E402  (benchmarks/serving.py: one server helper for both harnesses)

stop = serving.stop

SHARED = ROOT.parent / "shared"
ADMIN = "admin-key-0123456789abcdef"
READER = "reader-key-0123456789abcdef"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
READER_AUTH = {"Authorization": f"Bearer {READER}"}


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "POLICYQA_DATA_DIR": str(data_dir),
        "POLICYQA_API_KEYS": f"{ADMIN}:admin,{READER}",
        **extra,
    }


def start_server(data_dir: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`policyqa serve` on a free loopback port with the harness's keys, ready (/readyz 200)."""
    proc, base, _ = serving.start_server(data_dir, environment(data_dir, **extra))
    return proc, base


def ingest(data_dir: Path, *args: str) -> dict[str, object]:
    """`policyqa ingest ARGS --json` in its own process; its summary."""
    done = subprocess.run(
        [sys.executable, "-m", "service.cli_main", "ingest", *args, "--json"],
        env=environment(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


HASH_STORE = """
import hashlib, json, sys
from pathlib import Path
from service.settings import Settings
from ingest.store_factory import build_store
store = build_store(Settings(data_dir=Path(sys.argv[1])))
volatile = {"ingested_at", "state"}
docs = sorted(
    json.dumps({k: v for k, v in r.items() if k not in volatile}, sort_keys=True)
    for r in store.iter_documents(with_text=True)
)
chunks = sorted(json.dumps(c, sort_keys=True) for c in store.iter_chunks())
store.close()
print(hashlib.sha256("\\n".join(docs + chunks).encode()).hexdigest(), len(docs), len(chunks))
"""


def content_hash(data_dir: Path) -> tuple[str, int, int]:
    """Hash of every document record (with its text) and every chunk payload; counts."""
    done = subprocess.run(
        [sys.executable, "-c", HASH_STORE, str(data_dir)],
        env=environment(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    digest, docs, chunks = done.stdout.split()
    return digest, int(docs), int(chunks)


def pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (filled in below)
    kids = []
    font = len(objects) + 1
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 11 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1", "replace")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, content)
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
