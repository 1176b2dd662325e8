"""Pre-commit benchmark: `leakscan scan --staged` on a repository of realistic size with one
staged change, and `leakscan --version` for start-up; `git diff --cached` as the reference.

Usage: python benchmarks/precommit.py [--files 3000] [--runs 15]
Targets: scan --staged under 0.25 s, --version under 0.12 s (medians).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, interleave, leakscan_cmd, print_table, run_measured  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402


def generate(path: Path, files: int, seed: int = 5) -> None:
    """A committed tree of source-like files, then one modified file staged (with a token)."""
    marker = path.parent / (path.name + ".spec.json")
    spec = {"files": files, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return
    subprocess.run(["rm", "-rf", str(path)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    rng = random.Random(seed)
    for n in range(files):
        target = path / f"src/pkg{n % 30:02d}/module{n:04d}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{i}(x):\n    return x * {rng.randint(0, 999)}\n" for i in range(150))
        target.write_text(body)
    git = ["git", "-C", str(path), "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "initial"], check=True)
    changed = path / "src/pkg07/module0007.py"
    token = TokenGenerator(seed).sqco()
    changed.write_text(changed.read_text() + f'\nSONAR_TOKEN = "{token}"\n')
    subprocess.run([*git, "add", str(changed)], check=True)
    marker.write_text(json.dumps(spec))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    repo = WORK / "precommit-repo"
    WORK.mkdir(parents=True, exist_ok=True)
    generate(repo, args.files)
    print(f"repository: {repo} ({args.files} files, one staged change with a token)")
    staged = [*leakscan_cmd(), "scan", "--staged"]
    _, _, out, code = run_measured(staged, cwd=repo)
    print(f"leakscan scan --staged: exit {code} (1 expected: the staged token is found)")
    if code != 1:
        sys.exit("MISMATCH: the staged token was not reported")
    commands = {
        "git diff --cached": ["git", "diff", "--cached", "--quiet"],
        "leakscan --version": [*leakscan_cmd(), "--version"],
        "leakscan scan --staged": staged,
    }
    results = interleave(commands, args.runs, cwd=repo)
    print_table(results, "git diff --cached")
    for name, target in (("leakscan scan --staged", 0.25), ("leakscan --version", 0.12)):
        median = results[name].median
        print(f"{name}: median {median:.3f}s, target {target}s: {'met' if median < target else 'NOT met'}")


if __name__ == "__main__":
    main()
