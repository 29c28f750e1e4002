"""The session-end check (a pytest plugin, loaded by tests/conftest.py): the run fails when
a test left a process running or wrote outside its temporary directory.

Processes: this pytest process is made a child subreaper (Linux), so a process whose
parent died is re-parented here rather than to init; any descendant still alive when the
session ends is a leftover. Files: new entries beside the checkout, at its top level, in
its default data folder and under its seeds, corpora and tests folders (a test writing
there is writing into a user's checkout); new test modules are not counted, since people
working in the checkout meanwhile add them.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_CHILD_SUBREAPER = 36
_CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _watched() -> set[Path]:
    """Every entry the tests have no business creating."""
    entries: set[Path] = set()
    for folder in (ROOT.parent, ROOT, ROOT / "data"):
        if folder.is_dir():
            entries |= {p for p in folder.iterdir() if p.name not in _CACHES}
    for folder in (ROOT / "seeds", ROOT / "corpora", ROOT / "tests"):
        entries |= {
            p for p in folder.rglob("*") if not _CACHES & set(p.parts) and p.suffix != ".py"
        }
    return entries


def _descendants(root: int) -> dict[int, str]:
    """Live (not zombie) descendants of ``root``: pid -> command line."""
    children: dict[int, list[int]] = {}
    state: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        state[int(entry.name)] = fields[0]
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, str] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        if state.get(pid) == "Z":
            continue
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        found[pid] = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    session.config.stash[_BEFORE] = _watched()
    session.config.stash[_RUNNING] = set(_descendants(os.getpid()))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if sys.platform != "linux" or _BEFORE not in session.config.stash:
        return
    problems = [
        f"left running: pid {pid}: {command[:200]}"
        for pid, command in _descendants(os.getpid()).items()
        if pid not in session.config.stash[_RUNNING]
    ]
    problems += [
        f"written outside the test's temporary directory: {path}"
        for path in sorted(_watched() - session.config.stash[_BEFORE])
    ]
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "\n".join(["tests left something behind:", *problems])
        if reporter is not None:
            reporter.write_line(text, red=True)
        else:
            print(text, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set[Path]]()
_RUNNING = pytest.StashKey[set[int]]()
