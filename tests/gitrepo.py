"""A small declarative git repository builder for tests (history, staged, hooks, hardening).

Repositories are built with the git CLI in tmp_path, with fixed author/committer identities and
dates (one hour apart), and with no global or system git configuration, so commit ids are the
same on every run and every machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

START = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str


ALICE = Person("Alice Example", "alice@example.com")
BOB = Person("Bob Builder", "bob@example.org")

Files = Mapping[str, str | bytes | None]


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: no user/system configuration, no prompts, fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LEAKSCAN_"))}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=ALICE.name,
        GIT_AUTHOR_EMAIL=ALICE.email,
        GIT_COMMITTER_NAME=ALICE.name,
        GIT_COMMITTER_EMAIL=ALICE.email,
    )
    env.update(extra or {})
    return env


def run_git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(env), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.strip()


@dataclass(slots=True)
class GitRepo:
    """A repository under construction. Every commit gets the next date of a fixed clock."""

    path: Path
    ticks: int = 0
    dates: dict[str, datetime] = field(default_factory=dict)

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return run_git(self.path, *args, env=env)

    def _next_date(self) -> datetime:
        self.ticks += 1
        return START + timedelta(hours=self.ticks)

    def _dated_env(self, author: Person) -> tuple[dict[str, str], datetime]:
        when = self._next_date()
        stamp = f"{int(when.timestamp())} +0100"
        return (
            {
                "GIT_AUTHOR_NAME": author.name,
                "GIT_AUTHOR_EMAIL": author.email,
                "GIT_AUTHOR_DATE": stamp,
                "GIT_COMMITTER_DATE": stamp,
            },
            when,
        )

    def write(self, files: Files) -> None:
        """Change the working tree only; None deletes a file."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def stage(self, files: Files) -> None:
        """Change the working tree and stage those paths."""
        self.write(files)
        if files:
            self.git("add", "-A", "--", *files)

    def commit(self, files: Files | None = None, message: str = "change", author: Person = ALICE) -> str:
        """Stage ``files`` (if any) and commit everything staged; returns the commit id."""
        self.stage(files or {})
        env, when = self._dated_env(author)
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        sha = self.head()
        self.dates[sha] = when
        return sha

    def merge(self, branch: str, message: str = "merge", author: Person = ALICE, commit: bool = True) -> str:
        env, when = self._dated_env(author)
        args = ["merge", "-q", "--no-ff", "-m", message, branch]
        if not commit:
            args.insert(1, "--no-commit")
            self.ticks -= 1
        self.git(*args, env=env)
        sha = self.head()
        self.dates[sha] = when
        return sha

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("branch", name, start)

    def checkout(self, name: str, create: bool = False) -> None:
        self.git("checkout", "-q", *(["-b"] if create else []), name)

    def tag(self, name: str, target: str = "HEAD", annotated: bool = False) -> None:
        if annotated:
            env, _ = self._dated_env(ALICE)
            self.git("tag", "-a", name, "-m", f"release {name}", target, env=env)
        else:
            self.git("tag", name, target)

    def stash(self, files: Files, message: str = "wip") -> str:
        """Change ``files`` in the working tree, then stash the change; returns the stash commit."""
        self.write(files)
        env, _ = self._dated_env(ALICE)
        self.git("stash", "push", "-q", "-m", message, env=env)
        return self.git("rev-parse", "refs/stash")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def iso_date(self, sha: str) -> str:
        return self.dates[sha].isoformat()


MakeRepo = Callable[..., GitRepo]
