"""History benchmark: `leakscan history` against the decompression floor
(`git cat-file --batch-all-objects --batch --unordered`: every object of the store inflated once)
on the same repository, interleaved, with the peers (Kingfisher, Betterleaks) where installed.

Usage:
  python benchmarks/history.py                       # generate (once) and time a synthetic repo
  python benchmarks/history.py PATH                   # a real repository (a bare mirror is fine)
  python benchmarks/history.py PATH --runs 5 --peers-dir /tmp/peers/bin
  python benchmarks/history.py --commits 5000 --megabytes 300 --runs 3
  python benchmarks/history.py PATH --leakscan-args '--max-decode-depth 0'   # extra options
  python benchmarks/history.py PATH --ref main        # also leakscan as of main, interleaved

Prints medians, min-max, the ratio to the floor (and its min-max over rounds), peak RSS, blobs/s,
and whether the target (1.5x the floor) is met; also the floor with every byte delivered to a
reading process (``deliver.py``) and leakscan's ratio to that.

The synthetic repository has --commits commits on two branches and a tag, about --megabytes of
blob content, and planted tokens (some deleted later) whose introducing commits are checked.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, interleave, leakscan_cmd, peer, print_table, ref_rows, run_measured  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402

WORDS = (
    "def class return import from self value config token project build test main string "
    "number list dict result error request response server client user name path file data"
).split()


def _text(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = f"    {rng.choice(WORDS)}_{rng.randint(0, 9999)} = {rng.choice(WORDS)}({rng.random():.6f})"
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def generate(path: Path, commits: int, megabytes: int, seed: int = 11) -> dict[str, str]:
    """Write the repository with git fast-import; return planted token → message of its commit."""
    spec = {"commits": commits, "megabytes": megabytes, "seed": seed}
    marker = path.parent / (path.name + ".spec.json")
    planted_file = path.parent / (path.name + ".planted.json")
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return json.loads(planted_file.read_text())
    subprocess.run(["rm", "-rf", str(path)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    rng = random.Random(seed)
    generator = TokenGenerator(seed)
    files = [f"src/pkg{n % 20:02d}/module{n:03d}.py" for n in range(300)]
    per_change = megabytes * 1_000_000 // (commits * 3)
    plant_at = set(rng.sample(range(10, commits), 6))
    planted: dict[str, str] = {}
    stream = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE)
    assert stream.stdin is not None
    out = stream.stdin
    feature_started, last_main = False, 0
    for n in range(1, commits + 1):
        branch = "refs/heads/feature" if n % 10 == 0 and n > commits // 2 else "refs/heads/main"
        message = f"change {n}".encode()
        out.write(f"commit {branch}\nmark :{n}\n".encode())
        out.write(f"author Dev {n % 7} <dev{n % 7}@example.com> {1_600_000_000 + n * 60} +0000\n".encode())
        out.write(f"committer Dev <dev@example.com> {1_600_000_000 + n * 60} +0000\n".encode())
        out.write(b"data %d\n%s\n" % (len(message), message))
        if branch == "refs/heads/feature" and not feature_started:
            out.write(f"from :{last_main}\n".encode())
            feature_started = True
        if branch == "refs/heads/main":
            last_main = n
        for target in rng.sample(files, 3):
            content = _text(rng, per_change)
            if n in plant_at:
                token = generator.sqco()
                planted[token] = message.decode()
                content += f'SONAR_TOKEN = "{token}"\n'.encode()
                plant_at.discard(n)
            out.write(f"M 100644 inline {target}\n".encode())
            out.write(b"data %d\n%s\n" % (len(content), content))
        out.write(b"\n")
        if n == commits // 3:
            out.write(f"reset refs/tags/v1.0\nfrom :{n}\n\n".encode())
    out.close()
    if stream.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)
    subprocess.run(["git", "repack", "-adq"], cwd=path, check=True)
    marker.write_text(json.dumps(spec))
    planted_file.write_text(json.dumps(planted))
    return planted


def repo_stats(path: Path) -> tuple[int, int]:
    """(number of blobs, total blob bytes) in the repository's object store."""
    proc = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize)"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    )
    sizes = [
        int(size) for kind, size in (line.split() for line in proc.stdout.splitlines()) if kind == "blob"
    ]
    return len(sizes), sum(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, help="an existing repository (default: generate one)")
    parser.add_argument("--repo", type=Path, help="same as PATH")
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers-dir", help="folder with kingfisher/betterleaks (default: PATH)")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--ref", help="also time leakscan as of this git ref (a `git archive` snapshot), interleaved"
    )
    parser.add_argument(
        "--leakscan-args", default="", help="extra options for leakscan history, e.g. '--workers 1'"
    )
    args = parser.parse_args()
    planted: dict[str, str] = {}
    repo = args.path or args.repo
    if repo is None:
        repo = WORK / "history-repo"
        WORK.mkdir(parents=True, exist_ok=True)
        planted = generate(repo, args.commits, args.megabytes)
    blobs, size = repo_stats(repo)
    print(f"repository: {repo} ({blobs} blobs, {size / 1e6:.1f} MB of blob content)")

    leakscan = [
        *leakscan_cmd(),
        "history",
        "--no-progress",
        "--format",
        "json",
        "--show-secrets",
        *args.leakscan_args.split(),
        str(repo),
    ]
    floor = ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch", "--unordered"]
    wall, rss, out, code = run_measured(leakscan)
    report = json.loads(out)
    stats = report["stats"]
    print(
        f"leakscan: exit {code}, {len(report['findings'])} findings, {stats['files_scanned']} blobs, "
        f"{stats['bytes_scanned'] / 1e6:.1f} MB scanned, {len(stats['errors'])} errors, {wall:.2f}s, "
        f"peak {rss:.0f} MiB"
    )
    if planted:
        _check_planted(repo, report, planted)
    # The same inflation, with every byte read into a process (benchmarks/deliver.py): the least a
    # scanner outside git pays. On a 2-core VM the crossing alone costs nearly the floor again.
    delivered = [sys.executable, str(Path(__file__).resolve().parent / "deliver.py"), str(repo)]
    commands = {
        "floor: git cat-file --batch-all": floor,
        "floor, delivered to a reader": delivered,
        "leakscan history": leakscan,
    }
    if args.ref:
        commands.update(ref_rows("leakscan history", leakscan[len(leakscan_cmd()) :], args.ref))
    if not args.no_peers:
        if kingfisher := peer("kingfisher", args.peers_dir):
            commands["kingfisher scan (full history)"] = [
                kingfisher,
                "scan",
                "--git-history=full",
                "--no-validate",
                "--no-update-check",
                str(repo),
            ]
        if betterleaks := peer("betterleaks", args.peers_dir):
            commands["betterleaks git"] = [betterleaks, "git", "--no-banner", str(repo)]
    results = interleave(commands, args.runs)
    print_table(results, "floor: git cat-file --batch-all", {"leakscan history": 1.5})
    median = results["leakscan history"].median
    ratio = median / results["floor, delivered to a reader"].median
    print(f"leakscan history: {ratio:.2f}x the floor delivered to a reader")
    print(f"leakscan history: {blobs / median:,.0f} blobs/s, {size / 1e6 / median:.0f} MB/s of blob content")


def _check_planted(repo: Path, report: dict[str, object], planted: dict[str, str]) -> None:
    findings = report["findings"]
    assert isinstance(findings, list)
    found = {f["secret"]: f for f in findings if f["rule_id"].startswith("sonarqube-cloud")}
    if set(found) != set(planted):
        sys.exit(f"MISMATCH: planted {len(planted)} tokens, found {len(found)}")
    subjects = dict(
        line.split(" ", 1)
        for line in subprocess.run(
            ["git", "log", "--all", "--format=%H %s"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )
    wrong = [t for t in planted if subjects.get(found[t]["commit"]) != planted[t]]
    if wrong:
        sys.exit(f"MISMATCH: {len(wrong)} planted token(s) credited to the wrong commit")
    print(f"all {len(planted)} planted tokens found and credited to the commits that added them")


if __name__ == "__main__":
    main()
