"""`leakscan install-hook`: a plain git pre-commit hook for people who don't use the pre-commit
framework."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pygit2

from leakscan.errors import InputError, UsageError
from leakscan.sources.git import common_dir, open_repo

HOOK_NAME = "pre-commit"


def hooks_dir(repo: pygit2.Repository) -> Path:
    """Where git looks for hooks: core.hooksPath (relative to the work tree, or to the git dir of
    a bare repository), else the hooks folder shared by all worktrees."""
    config = repo.config
    value = config["core.hooksPath"] if "core.hooksPath" in config else None
    if value:
        configured = Path(os.path.expanduser(value))
        if configured.is_absolute():
            return configured
        return Path(repo.workdir or repo.path) / configured
    return common_dir(repo) / "hooks"


def render_hook(python: str) -> str:
    """The hook script: this installation's interpreter if it is still there, else `leakscan`."""
    return f"""#!/bin/sh
# Written by `leakscan install-hook`: blocks a commit that adds a leaked token.
# Bypass once (not recommended): git commit --no-verify
LEAKSCAN_PYTHON={shlex.quote(python)}
if [ -x "$LEAKSCAN_PYTHON" ]; then
    exec "$LEAKSCAN_PYTHON" -m leakscan scan --staged
fi
exec leakscan scan --staged
"""


def install_hook(where: str | Path, python: str, *, force: bool = False) -> tuple[Path, Path | None]:
    """Write the pre-commit hook of the repository containing ``where``; returns its path and,
    when ``force`` replaced a hook, where the old one was moved (never overwriting a backup)."""
    repo = open_repo(where)
    if repo.is_bare:
        raise UsageError(
            f"{where}: bare repository (no work tree, nothing is committed here): "
            "install the hook in a clone with a work tree"
        )
    folder = hooks_dir(repo)
    target = folder / HOOK_NAME
    exists = target.exists() or target.is_symlink()
    if exists and not force:
        raise UsageError(
            f"{target}: a pre-commit hook already exists; re-run with --force to replace it, "
            "or add `leakscan scan --staged` to it yourself"
        )
    backup = _free_backup_name(target) if exists else None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if backup is not None:
            target.rename(backup)
        target.write_text(render_hook(python), encoding="utf-8")
        mode = target.stat().st_mode
        target.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as exc:
        raise InputError(f"{target}: cannot write hook: {exc.strerror or exc}") from exc
    return target, backup


def _free_backup_name(target: Path) -> Path:
    """``pre-commit.bak``, or ``pre-commit.bak.N`` for the first N not taken."""
    candidate = target.with_name(target.name + ".bak")
    number = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = target.with_name(f"{target.name}.bak.{number}")
        number += 1
    return candidate
