"""History against git itself: in random repositories (branches, merges, orphan branches, commits
left unreachable by a reset, lightweight and annotated tags, tags to a tree or a blob, notes,
stashes with untracked files), `leakscan history` finds exactly the tokens of the blobs git
reaches from its refs and stash entries (`git rev-list --objects --all` plus `git stash list`)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import git_env, run_git

PATHS = ["a.env", "b.txt", "d/c.env", "d/e/f.yml", "g/h.properties", "d/x", "z"]
# Every repository gets each of these once (two stashes: the older one lives in the reflog only)...
SPECIAL_STEPS = ["stash", "stash", "note", "blob tag", "tree tag", "orphan", "reset", "merge"]
# ...and some of these, at random.
RANDOM_STEPS = ["commit", "commit", "commit", "branch", "merge", "checkout", "tag"]


class RandomHistory:
    """A repository built by random steps, with tokens from a generator seeded like them."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.tokens = TokenGenerator(seed)
        self.branches = ["main"]
        self.commits = 0
        run_git(root, "init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return run_git(self.root, *args)

    def token_line(self) -> str:
        return f"sonar.token={self.tokens.sqco()}\n"

    def commit(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            path = self.root / self.rng.choice(PATHS)
            if self.rng.random() < 0.15 and path.exists():
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            extra = self.token_line() if self.rng.random() < 0.6 else ""
            path.write_text(f"v{self.commits} {self.rng.random()}\n{extra}")
        self.commits += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", f"c{self.commits}")

    def merge(self) -> None:
        current = self.git("rev-parse", "--abbrev-ref", "HEAD")
        other = self.rng.choice([b for b in self.branches if b != current])
        strategy = ["-s", "ours"] if self.rng.random() < 0.5 else ["-X", "theirs"]
        merge = ["git", "merge", "-q", "--no-edit", "--allow-unrelated-histories", *strategy, other]
        if subprocess.run(merge, cwd=self.root, env=git_env(), capture_output=True).returncode:
            self.git("merge", "--abort")  # a conflict -X theirs does not settle (a file against a folder)

    def orphan(self) -> None:
        name = f"o{self.commits}"
        self.git("checkout", "-q", "--orphan", name)
        self.git("rm", "-rqf", "--cached", "--ignore-unmatch", ".")
        for child in self.root.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        self.branches.append(name)
        self.commit()

    def step(self, kind: str) -> None:
        if kind == "branch":
            name = f"b{len(self.branches)}"
            self.git("checkout", "-q", "-b", name)
            self.branches.append(name)
        elif kind == "merge" and len(self.branches) > 1:
            self.merge()
        elif kind == "checkout":
            self.git("checkout", "-q", "-f", self.rng.choice(self.branches))
        elif kind == "tag":
            annotated = ["-a", "-m", "tag"] if self.rng.random() < 0.5 else []
            self.git("tag", "-f", *annotated, f"t{self.commits}")
        elif kind == "blob tag":
            self.git(
                "tag",
                "-f",
                f"blob{self.commits}",
                run_git(self.root, "hash-object", "-w", self.write_loose()),
            )
        elif kind == "tree tag":
            self.git("tag", "-f", f"tree{self.commits}", "HEAD^{tree}")
        elif kind == "orphan":
            self.orphan()
        elif kind == "reset" and self.commits > 1:
            self.commit()
            self.git("reset", "-q", "--hard", "HEAD~1")
        elif kind == "note":
            self.git("notes", "add", "-f", "-m", f"note {self.token_line()}")
        elif kind == "stash":
            (self.root / "a.env").write_text(f"stashed {self.token_line()}")
            (self.root / "new.env").write_text(f"untracked {self.token_line()}")
            self.git("stash", "-q", "-u")
        else:
            self.commit()

    def write_loose(self) -> str:
        path = self.root.parent / f"loose-{self.commits}.txt"
        path.write_text(f"blob only {self.token_line()}")
        return str(path)

    def reachable_tokens(self) -> set[str]:
        """The tokens of every blob reachable from the refs and the stash entries, as git says."""
        stashes = self.git("stash", "list", "--format=%H").split()
        objects = [
            line.split(" ")[0] for line in self.git("rev-list", "--objects", "--all", *stashes).splitlines()
        ]
        found: set[str] = set()
        for oid in objects:
            if self.git("cat-file", "-t", oid) == "blob":
                text = self.git("cat-file", "blob", oid)
                found.update(
                    word.split("=", 1)[1] for word in text.split() if word.startswith("sonar.token=")
                )
        return found


@pytest.mark.parametrize("seed", range(8))
def test_history_finds_the_tokens_of_every_blob_git_reaches(
    tmp_path: Path, run_cli: RunCli, seed: int
) -> None:
    (tmp_path / "repo").mkdir()
    repo = RandomHistory(tmp_path / "repo", seed)
    repo.commit()
    steps = [*SPECIAL_STEPS, *repo.rng.choices(RANDOM_STEPS, k=repo.rng.randint(4, 10))]
    repo.rng.shuffle(steps)
    for kind in steps:
        repo.step(kind)
    proc = run_cli("history", "--format", "json", "--show-secrets", str(repo.root))
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert {finding["secret"] for finding in report["findings"]} == repo.reachable_tokens()
    assert report["stats"]["errors"] == [] and report["stats"]["complete"] is True


@pytest.mark.parametrize("seed", range(6))
def test_each_finding_names_a_commit_git_log_s_names(tmp_path: Path, run_cli: RunCli, seed: int) -> None:
    """A linear history where a few tokens are added, removed and added again across files: each
    token is reported at the first commit `git log --reverse -S TOKEN` names, and every commit
    reported for it is one that changed how often it occurs."""
    rng = random.Random(seed)
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    generator = TokenGenerator(seed)
    pool = [generator.sqco() for _ in range(5)]
    for number in range(rng.randint(4, 10)):
        for _ in range(rng.randint(1, 2)):
            path = root / rng.choice(PATHS)
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = path.read_text().splitlines() if path.exists() else []
            if lines and rng.random() < 0.4:
                lines.pop(rng.randrange(len(lines)))
            else:
                lines.insert(
                    rng.randint(0, len(lines)), rng.choice([f"sonar.token={rng.choice(pool)}", "plain"])
                )
            path.write_text("\n".join(lines) + "\n")
        stamp = f"{1_700_000_000 + number * 3600} +0000"
        run_git(root, "add", "-A")
        run_git(root, "commit", "-q", "--allow-empty", "-m", f"c{number}", env={"GIT_COMMITTER_DATE": stamp})
    proc = run_cli("history", "--format", "json", "--show-secrets", str(root))
    assert proc.returncode in (0, 1), proc.stderr
    reported: dict[str, set[str]] = {}
    for finding in json.loads(proc.stdout)["findings"]:
        reported.setdefault(finding["secret"], set()).add(finding["commit"])
    for token in pool:
        changed = run_git(root, "log", "--reverse", "--format=%H", "-S", token).split()
        if not changed:
            assert token not in reported
            continue
        assert changed[0] in reported[token] and reported[token] <= set(changed), token
