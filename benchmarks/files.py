"""Files benchmark: `leakscan scan` against ripgrep, interleaved, with the peers where installed.

Usage:
  python benchmarks/files.py                 # generated text trees: 136 MB (400 files) and 4x that
  python benchmarks/files.py --files 400 --megabytes 136 --growth 4 --runs 5
  python benchmarks/files.py PATH            # a real work tree (ignore files honoured by both)

A generated tree (made deterministically, once, under benchmarks/.work) has a few planted tokens;
both tools must find exactly those. Prints medians, min-max, the ratio to ripgrep (and its
min-max over rounds), peak memory, the target ratio, and how leakscan's cost grows with the data.
leakscan and the Python floor also run on an empty folder: what each pays before any tree, and
so what a target leaves for the tree itself.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    KEYWORD_DB,
    WORK,
    Timings,
    compile_bytecode,
    interleave,
    leakscan_cmd,
    peer,
    print_table,
    ref_rows,
    require,
    run_measured,
)

from leakscan.synthetic import TokenGenerator  # noqa: E402

RG_PATTERN = r"\bsqco_[A-Za-z0-9]{59}\b"
PYFLOOR = Path(__file__).resolve().parent / "pyfloor.py"
PYFLOOR_ROW = "python floor (pyfloor.py)"
STARTUP_ROW = "leakscan start-up (empty folder)"
PYFLOOR_STARTUP_ROW = "python floor (empty folder)"
EMPTY = WORK / "empty-folder"
WORDS = (
    "def class return import from self value config token project build test main "
    "string number list dict result error request response server client user name path "
    "file data index count total items key version update create delete select where"
).split()


def _line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        name = "_".join(rng.choices(WORDS, k=2))
        return f"    {name} = {rng.choice(WORDS)}({rng.randint(0, 9999)}, '{rng.choice(WORDS)}')"
    if kind < 0.8:
        return "    # " + " ".join(rng.choices(WORDS, k=rng.randint(4, 12)))
    if kind < 0.9998:
        return f"def {rng.choice(WORDS)}_{rng.randint(0, 999)}({', '.join(rng.choices(WORDS, k=3))}):"
    return f"sonar.projectKey={rng.choice(WORDS)}-{rng.randint(0, 99)}"


def generate(root: Path, files: int, megabytes: int, seed: int = 7) -> list[str]:
    """Write the tree; return the planted tokens. Reuses an existing tree made with the same spec."""
    spec = {"files": files, "megabytes": megabytes, "seed": seed}
    marker = root / ".spec.json"
    tokens_file = root.parent / (root.name + ".planted.json")
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return json.loads(tokens_file.read_text())
    rng = random.Random(seed)
    generator = TokenGenerator(seed)
    pool = [_line(rng) for _ in range(20000)]
    per_file = megabytes * 1_000_000 // files
    planted: list[str] = []
    plant_at = set(rng.sample(range(files), 5))
    for n in range(files):
        path = root / f"pkg{n % 40:02d}" / f"mod{n // 40:03d}" / f"file{n:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        size = 0
        while size < per_file:
            line = pool[rng.randrange(len(pool))]
            lines.append(line)
            size += len(line) + 1
        if n in plant_at:
            token = generator.sqco()
            planted.append(token)
            lines.insert(rng.randrange(len(lines)), f'SONAR_TOKEN = "{token}"')
        path.write_text("\n".join(lines) + "\n")
    marker.write_text(json.dumps(spec))
    tokens_file.write_text(json.dumps(sorted(planted)))
    return sorted(planted)


def _commands(
    root: Path, rg: str, no_ignore: bool, peers_dir: str | None, ref: str | None
) -> dict[str, list[str]]:
    flags = ["--no-ignore"] if no_ignore else []
    commands = {
        "rg (sqco_ pattern)": [
            rg,
            *flags,
            "--no-heading",
            "-o",
            "-N",
            "--no-filename",
            RG_PATTERN,
            str(root),
        ],
        "leakscan scan": [*leakscan_cmd(), "scan", *flags, "--format", "json", "--show-secrets", str(root)],
        # The interpreter, leakscan's keyword database, and every file read and scanned once.
        PYFLOOR_ROW: [sys.executable, str(PYFLOOR), str(KEYWORD_DB), str(root), "--workers", "2"],
    }
    # One worker against the default (two once there are 64 MiB to scan): what the pool buys.
    commands["leakscan scan --workers 1"] = [*commands["leakscan scan"], "--workers", "1"]
    # What each pays before any tree: the same commands on an empty folder.
    EMPTY.mkdir(parents=True, exist_ok=True)
    commands[STARTUP_ROW] = [*commands["leakscan scan"][:-1], str(EMPTY)]
    commands[PYFLOOR_STARTUP_ROW] = [*commands[PYFLOOR_ROW][:-3], str(EMPTY), "--workers", "2"]
    if ref:
        commands.update(ref_rows("leakscan scan", commands["leakscan scan"][len(leakscan_cmd()) :], ref))
    if kingfisher := peer("kingfisher", peers_dir):
        commands["kingfisher scan"] = [
            kingfisher,
            "scan",
            "--git-history=none",
            "--no-validate",
            "--no-update-check",
            str(root),
        ]
    if betterleaks := peer("betterleaks", peers_dir):
        commands["betterleaks fs"] = [betterleaks, "fs", "--no-banner", str(root)]
    return commands


def _check(commands: dict[str, list[str]], planted: list[str] | None) -> None:
    _, _, out, code = run_measured(commands["leakscan scan"])
    found_ls = sorted(f["secret"] for f in json.loads(out)["findings"] if f["secret"].startswith("sqco_"))
    _, _, out, _ = run_measured(commands["rg (sqco_ pattern)"])
    found_rg = sorted(re.findall(RG_PATTERN, out.decode(errors="replace")))
    print(f"leakscan found {len(found_ls)} sqco_ (exit {code}), rg found {len(found_rg)}")
    if planted is not None and not (found_ls == found_rg == planted):
        sys.exit("MISMATCH: the tools did not find exactly the planted tokens")


def _print_floor_ratio(results: dict[str, Timings], target: float) -> None:
    """leakscan against the Python floor, and what the target leaves for the tree once
    leakscan has started, against what the floor itself spends on the tree."""
    floor = results[PYFLOOR_ROW].median
    rg = results["rg (sqco_ pattern)"].median
    startup = results[STARTUP_ROW].median
    floor_tree = floor - results[PYFLOOR_STARTUP_ROW].median
    print(f"leakscan scan: {results['leakscan scan'].median / floor:.2f}x the Python floor ({floor:.3f} s)")
    print(
        f"leakscan's start-up alone: {startup:.3f} s = {startup / rg:.2f}x rg's whole run; the target "
        f"({target:g}x rg = {target * rg:.3f} s) leaves {target * rg - startup:.3f} s for the tree, "
        f"where the Python floor spends {floor_tree:.3f} s on it (its run less its own start-up) and "
        f"leakscan {results['leakscan scan'].median - startup:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="a real tree (default: generated trees)")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--megabytes", type=int, default=136)
    parser.add_argument("--growth", type=int, default=4, help="the second tree is this many times larger")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peers-dir", help="folder with kingfisher/betterleaks (default: PATH)")
    parser.add_argument(
        "--ref", help="also time leakscan as of this git ref and as of HEAD (`git archive` snapshots)"
    )
    args = parser.parse_args()
    compile_bytecode()
    rg = require("rg")
    subprocess.run([sys.executable, str(PYFLOOR), "--write-db", str(KEYWORD_DB)], check=True)
    if args.path is not None:
        files = sum(1 for p in args.path.rglob("*") if p.is_file() and ".git" not in p.parts)
        print(f"tree: {args.path} ({files} files outside .git; ignore files honoured by both tools)")
        commands = _commands(args.path, rg, False, args.peers_dir, args.ref)
        _check(commands, None)
        results = interleave(commands, args.runs)
        print_table(results, "rg (sqco_ pattern)", {"leakscan scan": 3.0})
        _print_floor_ratio(results, 3.0)
        return
    medians = []
    for scale, target in ((1, 4.0), (args.growth, 3.0)):
        root = WORK / f"files-tree-{args.files * scale}-{args.megabytes * scale}"
        root.mkdir(parents=True, exist_ok=True)
        planted = generate(root, args.files * scale, args.megabytes * scale)
        total = sum(p.stat().st_size for p in root.rglob("*.py"))
        print(
            f"\ntree: {root} ({args.files * scale} files, {total / 1e6:.1f} MB, "
            f"{len(planted)} planted tokens)"
        )
        commands = _commands(root, rg, True, args.peers_dir, args.ref)
        _check(commands, planted)
        results = interleave(commands, args.runs)
        print_table(results, "rg (sqco_ pattern)", {"leakscan scan": target})
        _print_floor_ratio(results, target)
        medians.append((results["leakscan scan"].median, results["rg (sqco_ pattern)"].median))
    (small, rg_small), (large, rg_large) = medians
    print(
        f"\ngrowth {args.growth}x data: leakscan {large / small:.2f}x time, "
        f"rg {rg_large / rg_small:.2f}x time"
    )


if __name__ == "__main__":
    main()
