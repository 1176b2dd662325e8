"""Pre-commit benchmark: `leakscan scan --staged` on a repository with one staged change (and the
peers' staged scans where installed) against `git diff --cached`, and `leakscan --version` against
`python -c pass`, interleaved.

Usage:
  python benchmarks/precommit.py                  # generated: 5,053 files in the index
  python benchmarks/precommit.py PATH             # a real repository with something staged
  python benchmarks/precommit.py --files 5053 --runs 15 --peers-dir /tmp/peers/bin
Targets: scan --staged at most 0.12 s and 40 MiB, --version at most 40 ms (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    WORK,
    compile_bytecode,
    interleave,
    leakscan_cmd,
    peer,
    print_table,
    ref_rows,
    run_measured,
)

from leakscan.synthetic import TokenGenerator  # noqa: E402

STAGED = "src/pkg07/module0007.py"  # the one file changed and staged


def clean_index(repo: Path) -> str:
    """A second index file beside the repository's: the same staged file, changed without a
    token (the common commit); ``GIT_INDEX_FILE`` selects it. Returns its path."""
    index = repo / ".git" / "index-clean"
    git = ["git", "-C", str(repo)]
    base = subprocess.run([*git, "show", f"HEAD:{STAGED}"], capture_output=True, check=True).stdout
    write = [*git, "hash-object", "-w", "--stdin"]
    blob = subprocess.run(write, input=base + b"\nLIMIT = 10\n", capture_output=True, check=True)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run([*git, "read-tree", "HEAD"], env=env, check=True)
    entry = f"100644,{blob.stdout.decode().strip()},{STAGED}"
    subprocess.run([*git, "update-index", "--cacheinfo", entry], env=env, check=True)
    return str(index)


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
    changed = path / STAGED
    token = TokenGenerator(seed).sqco()
    changed.write_text(changed.read_text() + f'\nSONAR_TOKEN = "{token}"\n')
    subprocess.run([*git, "add", str(changed)], check=True)
    marker.write_text(json.dumps(spec))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="a repository with staged changes")
    parser.add_argument("--files", type=int, default=5053)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--peers-dir", help="folder with kingfisher/betterleaks (default: PATH)")
    parser.add_argument(
        "--ref", help="also time leakscan as of this git ref and as of HEAD (`git archive` snapshots)"
    )
    args = parser.parse_args()
    compile_bytecode()
    repo = args.path
    if repo is None:
        repo = WORK / "precommit-repo"
        WORK.mkdir(parents=True, exist_ok=True)
        generate(repo, args.files)
        print(f"repository: {repo} ({args.files} files, one staged change with a token)")
    staged = [*leakscan_cmd(), "scan", "--staged"]
    _, _, out, code = run_measured(staged, cwd=repo)
    print(f"leakscan scan --staged: exit {code}")
    if args.path is None and code != 1:
        sys.exit("MISMATCH: the staged token was not reported")
    clean = ["env", f"GIT_INDEX_FILE={clean_index(repo)}"] if args.path is None else []
    if clean and (code := run_measured([*clean, *staged], cwd=repo)[3]) != 0:
        sys.exit(f"MISMATCH: the change without a token exits {code}")
    commands = {
        "git diff --cached": ["git", "diff", "--cached", "--quiet"],
        "leakscan scan --staged": staged,
    }
    if clean:
        commands["leakscan scan --staged (no token)"] = [*clean, *staged]
    if args.ref:
        for name, argv in ref_rows("leakscan scan --staged", ["scan", "--staged"], args.ref).items():
            commands[name] = argv
            if clean:
                commands[name.replace("--staged (", "--staged, no token (")] = [*clean, *argv]
    if betterleaks := peer("betterleaks", args.peers_dir):
        commands["betterleaks git --staged"] = [betterleaks, "git", "--staged", "--no-banner", "."]
    if kingfisher := peer("kingfisher", args.peers_dir):
        commands["kingfisher scan --staged"] = [
            kingfisher,
            "scan",
            "--staged",
            "--no-validate",
            "--no-update-check",
            ".",
        ]
    results = interleave(commands, args.runs, cwd=repo)
    print_table(results, "git diff --cached")
    startup = interleave(
        {
            "python -c pass": [sys.executable, "-c", "pass"],
            "leakscan --version": [*leakscan_cmd(), "--version"],
        },
        args.runs,
    )
    print_table(startup, "python -c pass")
    for name, table, seconds, mib in (
        ("leakscan scan --staged", results, 0.12, 40.0),
        ("leakscan --version", startup, 0.040, None),
    ):
        t = table[name]
        met = t.median <= seconds and (mib is None or t.peak_rss_mb <= mib)
        limit = f"{seconds}s" + (f", {mib:.0f} MiB" if mib else "")
        print(
            f"{name}: median {t.median:.3f}s, peak {t.peak_rss_mb:.1f} MiB; target {limit}: "
            f"{'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
