"""The checks CI runs besides the tests, run by the tests (CI runs exactly install + pytest):
import-linter's architecture contracts, no import cycles, ruff lint and format, mypy --strict."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _tool(name: str) -> str:
    script = Path(sys.executable).parent / name
    found = str(script) if script.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept() -> None:
    proc = _run(_tool("lint-imports"), "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_no_import_cycles() -> None:
    import grimp

    graph = grimp.build_graph("leakscan", exclude_type_checking_imports=True)
    cycles = sorted(
        f"{importer} -> {imported} -> ... -> {importer}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported != "leakscan" and graph.find_shortest_chain(importer=imported, imported=importer)
    )
    assert cycles == []


def test_ruff_check() -> None:
    proc = _run(_tool("ruff"), "check", "leakscan", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format() -> None:
    proc = _run(_tool("ruff"), "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = _run(sys.executable, "-m", "mypy", "--strict", "leakscan")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_merge_conflict_markers() -> None:
    """No tracked text file (README, code, rules, templates) still holds a merge conflict."""
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z"], capture_output=True, check=False
    ).stdout.split(b"\0")
    if not any(listed):
        pytest.skip("not a git checkout")
    marker = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)
    found = []
    for name in filter(None, listed):
        path = REPO_ROOT / name.decode()
        if (
            path.suffix in {".md", ".py", ".toml", ".yml", ".yaml", ".html", ".j2", ".txt", ".cfg"}
            and path.is_file()
        ):
            if marker.search(path.read_bytes()):
                found.append(name.decode())
    assert found == []
