"""Files benchmark: `leakscan scan` against ripgrep on a generated tree of source-like files.

Usage: python benchmarks/files.py [--files 2400] [--megabytes 200] [--runs 5]
Generates (deterministically, once) a tree under benchmarks/.work/files-tree with a few planted
tokens, checks both tools find exactly the planted sqco_ tokens, then times them interleaved and
prints medians, the ratio to ripgrep, and peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, interleave, leakscan_cmd, print_table, require, run_measured  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402

RG_PATTERN = r"\bsqco_[A-Za-z0-9]{59}\b"
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
    tokens_file = root.parent / "files-planted.json"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2400)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rg = require("rg")
    root = WORK / "files-tree"
    root.mkdir(parents=True, exist_ok=True)
    planted = generate(root, args.files, args.megabytes)
    total = sum(p.stat().st_size for p in root.rglob("*.py"))
    print(f"tree: {root} ({args.files} files, {total / 1e6:.1f} MB, {len(planted)} planted tokens)")

    leakscan = [*leakscan_cmd(), "scan", "--no-ignore", "--format", "json", "--show-secrets", str(root)]
    ripgrep = [rg, "--no-ignore", "--no-heading", "-o", "-N", "--no-filename", RG_PATTERN, str(root)]
    _, _, out, code = run_measured(leakscan)
    found_ls = sorted(f["secret"] for f in json.loads(out)["findings"])
    _, _, out, _ = run_measured(ripgrep)
    found_rg = sorted(re.findall(RG_PATTERN, out.decode()))
    print(f"leakscan found {len(found_ls)} (exit {code}), rg found {len(found_rg)}, planted {len(planted)}")
    if not (found_ls == found_rg == planted):
        sys.exit("MISMATCH: the tools did not find exactly the planted tokens")

    results = interleave({"rg (sqco_ pattern)": ripgrep, "leakscan scan": leakscan}, args.runs)
    print_table(results, "rg (sqco_ pattern)")


if __name__ == "__main__":
    main()
