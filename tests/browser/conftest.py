"""Fixtures for the browser tests: one headless Chromium per session, and real reports made by
the CLI from a tmp tree and a tmp git repository whose file and author names carry markup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakscan.synthetic import TokenGenerator
from tests.browser import chromium
from tests.gitrepo import BOB, GitRepo, run_git

# Each payload would set a flag on <body> if it ever ran.
HOSTILE_DIR = '"><script>document.body.dataset.script=1<'
HOSTILE_FILE = "script><img src=x onerror=document.body.dataset.img=1>"
HOSTILE_PATH = f"{HOSTILE_DIR}/{HOSTILE_FILE}"
HOSTILE_AUTHOR = "Mallory<img src=x onerror=document.body.dataset.author=1 x="
FLAGS = ("script", "img", "author")


@dataclass(frozen=True, slots=True)
class Report:
    """An HTML report and the JSON report of the same input, both made by the CLI."""

    html: Path
    document: dict[str, Any]

    @property
    def url(self) -> str:
        return self.html.resolve().as_uri()


def run_leakscan(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKSCAN_")}
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    return proc


def make_reports(command: str, target: Path, out: Path) -> Report:
    html = out / f"{command}.html"
    run_leakscan(command, "--format", "html", "-o", str(html), str(target))
    document = json.loads(run_leakscan(command, "--format", "json", str(target)).stdout)
    return Report(html, document)


def commit_as(repo: GitRepo, author_line: str, message: str) -> str:
    """Commit the index with a raw author line (git itself would strip the markup from it)."""
    tree = run_git(repo.path, "write-tree")
    parent = repo.head()
    raw = (
        f"tree {tree}\nparent {parent}\nauthor {author_line}\n"
        f"committer Alice Example <alice@example.com> 1709290000 +0100\n\n{message}\n"
    )
    sha = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        cwd=repo.path,
        input=raw,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run_git(repo.path, "update-ref", "refs/heads/main", sha)
    run_git(repo.path, "reset", "-q", "--hard", sha)
    return sha


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium (empty profile) for every browser test."""
    reason = chromium.missing()
    if reason:
        pytest.skip(reason)
    driver = chromium.start(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def history_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """History of a repository: 4 tokens over 5 commits by 3 authors, 1 removed, 1 under a
    hostile path, 1 by a hostile author."""
    tokens = TokenGenerator("browser-history")
    path = tmp_path_factory.mktemp("history") / "repo"
    path.mkdir()
    run_git(path, "init", "-q", "-b", "main")
    repo = GitRepo(path)
    repo.commit({"config/sonar-project.properties": f"sonar.token={tokens.sqco()}\n"}, "add config")
    repo.commit({"ci/build.sh": f"export SONAR_TOKEN={tokens.server('u')}\n"}, "ci", author=BOB)
    repo.commit({"config/sonar-project.properties": "sonar.token=${SONAR_TOKEN}\n"}, "use env")
    repo.stage({HOSTILE_PATH: f"sonar.token={tokens.sqco()}\n"})
    commit_as(repo, f"{HOSTILE_AUTHOR} <m@example.com> 1709300000 +0000", "hostile")
    repo.commit({"deploy/env": f"SONAR_TOKEN={tokens.server('p')}\n"}, "deploy", author=BOB)
    return make_reports("history", path, tmp_path_factory.mktemp("history-reports"))


@pytest.fixture(scope="session")
def scan_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """A scan of a folder with two tokens, one of them under a hostile path."""
    tokens = TokenGenerator("browser-scan")
    root = tmp_path_factory.mktemp("scan") / "tree"
    for name, text in {
        "app/sonar-project.properties": f"sonar.token={tokens.sqco()}\n",
        HOSTILE_PATH: f"SONAR_TOKEN={tokens.server('a')}\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return make_reports("scan", root, tmp_path_factory.mktemp("scan-reports"))
