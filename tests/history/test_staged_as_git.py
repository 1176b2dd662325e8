"""`scan --staged` against git itself: after random staged changes (lines added, changed and
removed, new files, files changed again in the work tree after staging, files without a final
newline), the tokens reported are exactly those on the lines `git diff --cached` adds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import run_git
from tests.globs import NAMES, random_glob

PATHS = ["a.env", "b.txt", "d/c.env", "d/e/f.yml", "g/h.properties", "z"]


def _write(path: Path, lines: list[str], rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if rng.random() < 0.8 else ""))


def _added_tokens(diff: str) -> set[str]:
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return {line.split("sonar.token=", 1)[1].split()[0] for line in added if "sonar.token=" in line}


@pytest.mark.parametrize("seed", range(8))
def test_staged_scan_reports_the_tokens_git_diff_cached_adds(
    tmp_path: Path, run_cli: RunCli, seed: int
) -> None:
    rng = random.Random(seed)
    tokens = TokenGenerator(seed)
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")

    def line() -> str:
        return f"sonar.token={tokens.sqco()}" if rng.random() < 0.4 else f"plain {rng.random()}"

    for name in PATHS:
        if rng.random() < 0.7:
            _write(root / name, [line() for _ in range(rng.randint(0, 6))], rng)
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "--allow-empty", "-m", "base")
    for name in rng.sample(PATHS, rng.randint(1, len(PATHS))):
        path = root / name
        lines = path.read_text().splitlines() if path.exists() else []
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if roll < 0.3 and lines:
                lines.pop(rng.randrange(len(lines)))
            elif roll < 0.6 and lines:
                lines[rng.randrange(len(lines))] = line()
            else:
                lines.insert(rng.randint(0, len(lines)), line())
        _write(path, lines, rng)
        run_git(root, "add", "--", name)
        if rng.random() < 0.3:  # not staged: never reported
            path.write_text(path.read_text() + f"unstaged sonar.token={tokens.sqco()}\n")
    expected = _added_tokens(run_git(root, "diff", "--cached", "-U0", "--no-renames", "--no-color"))
    proc = run_cli("scan", "--staged", "--format", "json", "--show-secrets", str(root))
    assert proc.returncode == (1 if expected else 0), proc.stderr
    assert {finding["secret"] for finding in json.loads(proc.stdout)["findings"]} == expected


@pytest.mark.parametrize("seed", range(6))
def test_leakscanignore_leaves_out_the_same_files_staged_and_in_the_work_tree(
    tmp_path: Path, run_cli: RunCli, seed: int
) -> None:
    """Random `.leakscanignore` files (the root's and a subfolder's) over a random tree, all of it
    staged: `scan --staged --whole-files` (the index, ignore files read from it) and `scan` (the
    work tree, walked) report the same tokens."""
    rng = random.Random(seed)
    tokens = TokenGenerator(seed)
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    for _ in range(25):
        path = root / ("/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 3))) + ".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"sonar.token={tokens.sqco()}\n")
    (root / ".leakscanignore").write_text("\n".join(random_glob(rng) for _ in range(4)) + "\n")
    folders = sorted({path.parent for path in root.rglob("*.txt") if path.parent != root})
    (rng.choice(folders) / ".leakscanignore").write_text(random_glob(rng) + "\n")
    run_git(root, "add", "-A")

    def secrets(*args: str) -> set[str]:
        proc = run_cli(*args, "--format", "json", "--show-secrets", str(root))
        assert proc.returncode in (0, 1), proc.stderr
        return {finding["secret"] for finding in json.loads(proc.stdout)["findings"]}

    staged = secrets("scan", "--staged", "--whole-files")
    assert staged == secrets("scan")
    assert staged  # the root's four patterns never leave out all 25 files in these seeds
