"""Helpers for running the GitHub Action and the GitLab template against temporary repositories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from leakscan.synthetic import TokenGenerator
from tests.gitrepo import GitRepo, run_git


@pytest.fixture
def ready_venv(tmp_path: Path) -> Path:
    """A folder shaped like a virtual environment whose ``bin/python`` is the Python running the
    tests (leakscan installed): what the action's ``LEAKSCAN_VENV`` takes instead of installing."""
    venv = tmp_path / "ready-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without leakscan, git or CI settings, plus ``extra``."""
    prefixes = ("LEAKSCAN_", "GIT_", "GITHUB_", "RUNNER_", "CI_", "INPUT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k != "NO_COLOR"}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def pull_request_clone(tmp_path: Path, tokens: TokenGenerator) -> tuple[Path, str, str]:
    """An upstream repository whose ``main`` holds an old leak, and a clone of it (``origin``)
    checked out on a pull-request branch that adds a new one. Returns (clone, old, new token)."""
    old, new = tokens.sqco(), tokens.sqco()
    upstream = GitRepo(tmp_path / "upstream")
    upstream.path.mkdir()
    upstream.git("init", "-q", "-b", "main")
    upstream.commit({"old.properties": f"sonar.token={old}\n"}, message="old leak")
    clone = tmp_path / "workspace"
    run_git(tmp_path, "clone", "-q", str(upstream.path), str(clone))
    pr = GitRepo(clone)
    pr.git("checkout", "-q", "-b", "feature")
    pr.commit({"new.env": f"SONAR_TOKEN={new}\n"}, message="add new.env")
    return clone, old, new
