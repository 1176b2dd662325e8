"""Fixtures shared by every test area: synthetic tokens and running the CLI for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leakscan.synthetic import TokenGenerator
from tests.gitrepo import GitRepo, MakeRepo, run_git

REPO_ROOT = Path(__file__).resolve().parent.parent
# Data the tests need lives in the repository: they pass on a plain clone with nothing beside it.
TEST_DATA = REPO_ROOT / "tests" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/data/golden/ from the current output"
    )


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compiled databases (leakscan.hscache) go to a folder of this test session, never to the
    user's ~/.cache; subprocesses inherit it."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def tokens(request: pytest.FixtureRequest) -> TokenGenerator:
    """A token generator seeded by the test's name: same tokens on every run."""
    return TokenGenerator(request.node.nodeid)


RunCli = Callable[..., subprocess.CompletedProcess[str]]


def read_terminal(leader: int) -> str:
    """Everything written to a pseudo-terminal until its other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``python -m leakscan ARGS`` in a subprocess; returns the completed process."""

    def run(
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKSCAN_")}
        full_env.pop("NO_COLOR", None)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "leakscan", *args],
            cwd=cwd,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )

    return run


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """``make_repo(name="repo")`` → an empty repository (branch ``main``) in tmp_path."""

    def make(name: str = "repo") -> GitRepo:
        path = tmp_path / name
        path.mkdir()
        run_git(path, "init", "-q", "-b", "main")
        return GitRepo(path)

    return make
