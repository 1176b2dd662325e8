"""Audit benchmark: `leakscan audit` over many generated repositories.

Usage:
  python benchmarks/audit.py                         # 50 generated repositories
  python benchmarks/audit.py --repos 100 --commits 40
  python benchmarks/audit.py --mirror PATH           # add a real repository or mirror (e.g. pip)

Measures, on the same repositories:
1. a shell loop of `leakscan history REPO` (one process per repository);
2. `leakscan audit` with the local process pool, on an empty store;
3. the same audit again, unchanged (target: <= 5 % of 2);
4. after one new commit in one repository: how many blobs the audit scans (only the new ones);
5. `leakscan audit --scheduler local` (Dask LocalCluster, 2 workers) on an empty store, against 2
   (target: overhead <= 10 %).
Store size per repository and per blob is printed for the README's Scale section.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CHILD_ENV, WORK, leakscan_cmd  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402

WORDS = "def class return import value config token project build test main string number list".split()


def make_repo(path: Path, seed: int, commits: int, files: int, tokens: TokenGenerator) -> None:
    """A repository of ``commits`` commits touching ``files`` files each, via git fast-import."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream = []
    for number in range(1, commits + 1):
        stream.append(f"commit refs/heads/main\nmark :{number}\n")
        stamp = 1_700_000_000 + number * 3600
        stream.append(f"committer Bench <bench@example.com> {stamp} +0000\n")
        message = f"change {number}"
        stream.append(f"data {len(message)}\n{message}\n")
        if number > 1:
            stream.append(f"from :{number - 1}\n")
        for index in rng.sample(range(files * 3), files):
            lines = [f"{rng.choice(WORDS)}_{rng.randint(0, 99999)} = {rng.random():.6f}" for _ in range(40)]
            if number == commits // 2 and index % 7 == 0:
                lines.append(f"sonar.token={tokens.sqco()}")
            body = "\n".join(lines) + "\n"
            stream.append(f"M 100644 inline src/mod_{index}.py\ndata {len(body)}\n{body}\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input="".join(stream).encode(), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


@contextlib.contextmanager
def running_cluster(root: Path) -> Iterator[str]:
    """`dask scheduler` plus `dask worker` (2 processes, 1 thread each), as the README recipe."""
    bin_dir = Path(sys.executable).parent
    info = root / "scheduler.json"
    info.unlink(missing_ok=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": CHILD_ENV}
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
        **quiet,  # type: ignore[call-overload]
    )
    workers = subprocess.Popen(
        [
            str(bin_dir / "dask"),
            "worker",
            "--scheduler-file",
            str(info),
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        **quiet,  # type: ignore[call-overload]
    )
    try:
        while not info.exists():
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        yield str(address)
    finally:
        workers.terminate()
        workers.wait()
        scheduler.terminate()
        scheduler.wait()


def timed(argv: list[str], *, shell: bool = False) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, shell=shell, capture_output=True, text=True, env=CHILD_ENV)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"{argv if not shell else argv[0][:200]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return wall, proc.stderr


def blobs_scanned(stderr: str) -> int:
    found = re.search(r"(\d+) blobs scanned, (\d+) already scanned", stderr.splitlines()[-1])
    assert found, stderr[-500:]
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--files", type=int, default=20, help="files changed per commit")
    parser.add_argument("--mirror", type=Path, help="also audit this real repository or mirror")
    args = parser.parse_args()

    root = WORK / f"audit-{args.repos}x{args.commits}x{args.files}"
    repos_dir = root / "repos"
    if not repos_dir.is_dir():
        repos_dir.mkdir(parents=True)
        tokens = TokenGenerator("audit-benchmark")
        for number in range(args.repos):
            make_repo(repos_dir / f"repo{number:03d}", number, args.commits, args.files, tokens)
    targets = sorted(str(p) for p in repos_dir.iterdir())
    if args.mirror:
        targets.append(str(args.mirror.resolve()))
    listing = root / "targets.txt"
    listing.write_text("\n".join(targets) + "\n")
    leakscan = leakscan_cmd()
    cache = root / "cache"

    def audit(store: Path, *extra: str) -> tuple[float, str]:
        return timed(
            [
                *leakscan,
                "audit",
                "--repos",
                str(listing),
                "--store",
                str(store),
                "--cache",
                str(cache),
                "--no-progress",
                *extra,
            ]
        )

    loop = " ; ".join(
        f"{shlex.join(leakscan)} history {shlex.quote(t)} --format json --no-progress > /dev/null"
        for t in targets
    )
    loop_wall, _ = timed([loop], shell=True)

    store = root / "local.sqlite"
    for stale in root.glob("*.sqlite*"):
        stale.unlink()
    first_wall, first_err = audit(store)
    second_wall, second_err = audit(store)
    first_blobs, second_blobs = blobs_scanned(first_err), blobs_scanned(second_err)

    changed = Path(targets[0])
    (changed / "NEW_A.txt").write_text(f"new file {time.time()}\n")
    (changed / "NEW_B.txt").write_text(f"another new file {time.time()}\n")
    subprocess.run(["git", "add", "-A"], cwd=changed, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "new"], cwd=changed, check=True
    )
    third_wall, third_err = audit(store)
    third_blobs = blobs_scanned(third_err)

    local2_wall, local2_err = audit(root / "local2.sqlite", "--workers", "2")
    dask_wall, dask_err = audit(root / "dask.sqlite", "--scheduler", "local", "--workers", "2")
    with running_cluster(root) as address:
        cluster_wall, cluster_err = audit(root / "cluster.sqlite", "--scheduler", address)
    assert blobs_scanned(dask_err) == blobs_scanned(cluster_err) == blobs_scanned(local2_err)

    size = os.path.getsize(store) + sum(os.path.getsize(p) for p in root.glob("local.sqlite-*"))
    print(
        f"repositories: {len(targets)} ({args.commits} commits x {args.files} files each"
        + (f", plus {args.mirror}" if args.mirror else "")
        + f"), cores: {os.cpu_count()}"
    )
    print(f"shell loop of `leakscan history`:        {loop_wall:8.2f} s")
    print(
        f"audit, local pool, empty store:          {first_wall:8.2f} s  ({first_blobs} blobs scanned,"
        f" {first_blobs / first_wall:.0f} blobs/s; {loop_wall / first_wall:.2f}x faster than the loop)"
    )
    print(
        f"audit again, unchanged:                  {second_wall:8.2f} s  ({second_blobs} blobs scanned;"
        f" {100 * second_wall / first_wall:.1f} % of the first run, target <= 5 %)"
    )
    print(
        f"audit after one new commit (2 new files): {third_wall:7.2f} s  ({third_blobs} blobs scanned:"
        " the new ones plus the blobs holding findings)"
    )
    print(f"audit, local pool (2 workers), 2nd store: {local2_wall:7.2f} s")
    print(
        f"audit, Dask LocalCluster (2 workers):    {dask_wall:8.2f} s  (incl. starting the cluster;"
        f" {100 * (dask_wall - local2_wall) / local2_wall:+.1f} % vs the local pool)"
    )
    print(
        f"audit, running Dask cluster (2 workers): {cluster_wall:8.2f} s  (overhead vs local pool:"
        f" {100 * (cluster_wall - local2_wall) / local2_wall:+.1f} %, target <= 10 %)"
    )
    print(
        f"store after one audit: {size / 1024:.0f} KiB for {len(targets)} repositories,"
        f" {first_blobs} blobs"
        f" ({size / max(first_blobs, 1):.0f} bytes per blob incl. findings and indexes)"
    )
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
