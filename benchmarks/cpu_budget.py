"""Where a history scan's CPU goes, against what reading the objects costs at least (Linux).

Wall time and the CPU seconds the whole machine spent (``/proc/stat``, so git children and
worker processes are counted too) for, interleaved, medians:
  - the floor: ``git cat-file --batch-all-objects --batch --unordered`` to /dev/null;
  - the floor delivered: the same, every byte read into a process (``deliver.py``);
  - the blobs delivered to 2 readers as leakscan's workers read them (``deliver.py --readers 2``);
  - the same with leakscan's keyword pass over every byte, in 2 processes (``--scan``): the Python
    floor of a history scan with leakscan's detector;
  - ``leakscan history``.
leakscan's CPU beyond the 2-reader delivery is its own work (scanning, the tree walk, the rest);
beyond the Python floor, what it adds to the keyword pass (decoding, archives, the walk, the rest).
On a machine whose cores are all busy during the scan, wall time is CPU seconds / cores, so that
remainder is what stands between leakscan and the floor. Run it on an otherwise idle machine.

Usage: python benchmarks/cpu_budget.py REPO [--runs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CHILD_ENV, KEYWORD_DB, compile_bytecode, leakscan_cmd  # noqa: E402

_BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system irq softirq: time not idle, waiting or stolen


def busy_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, all cores together."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(fields[i]) for i in _BUSY_FIELDS) / 100  # USER_HZ is 100 on Linux


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, busy CPU seconds of the machine) of one run of ``argv``; a run that fails
    (leakscan: exit code over 2, which are its results) ends the benchmark, naming the command."""
    cpu, start = busy_seconds(), time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV, check=False)
    wall, busy = time.perf_counter() - start, busy_seconds() - cpu
    if proc.returncode > (2 if "history" in argv else 0) or proc.returncode < 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise SystemExit(f"{' '.join(argv)}: exit code {proc.returncode}: {last[0]}")
    return wall, busy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repo")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    compile_bytecode()
    here = Path(__file__).resolve().parent
    subprocess.run([sys.executable, str(here / "pyfloor.py"), "--write-db", str(KEYWORD_DB)], check=True)
    deliver = [sys.executable, str(here / "deliver.py"), args.repo]
    scanned = f"blobs delivered+scanned ({args.workers})"
    commands = {
        "floor (git to /dev/null)": [
            "git",
            "-C",
            args.repo,
            "cat-file",
            "--batch-all-objects",
            "--batch",
            "--unordered",
        ],
        "floor delivered (1 reader)": deliver,
        f"blobs delivered ({args.workers} readers)": [*deliver, "--readers", str(args.workers)],
        scanned: [*deliver, "--readers", str(args.workers), "--scan", str(KEYWORD_DB)],
        "leakscan history": [
            *leakscan_cmd(),
            "history",
            "--no-progress",
            "--workers",
            str(args.workers),
            "--format",
            "json",
            "-o",
            "/dev/null",
            args.repo,
        ],
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for argv in commands.values():
        measure(argv)  # warm-up: the page cache
    for _ in range(args.runs):
        for name, argv in commands.items():
            runs[name].append(measure(argv))
    print(f"{'command':<30}{'wall s':>8}{'CPU s':>8}{'cores':>7}")
    medians: dict[str, tuple[float, float]] = {}
    for name, pairs in runs.items():
        wall = statistics.median(w for w, _ in pairs)
        cpu = statistics.median(c for _, c in pairs)
        medians[name] = (wall, cpu)
        print(f"{name:<30}{wall:>8.2f}{cpu:>8.2f}{cpu / wall:>7.2f}")
    floor_wall, floor_cpu = medians["floor (git to /dev/null)"]
    delivered = medians[f"blobs delivered ({args.workers} readers)"][1]
    wall, cpu = medians["leakscan history"]
    print(f"crossing into a process: {medians['floor delivered (1 reader)'][1] - floor_cpu:.2f} CPU s")
    print(
        f"leakscan: {wall / floor_wall:.2f}x the floor's wall time; {cpu:.2f} CPU s = {delivered:.2f} "
        f"delivering the blobs + {cpu - delivered:.2f} its own work (scanning, walking the trees, the rest)"
    )
    floor_wall_py, floor_cpu_py = medians[scanned]
    print(
        f"leakscan: {wall / floor_wall_py:.2f}x the Python floor's wall time, "
        f"{cpu - floor_cpu_py:.2f} CPU s beyond it (decoding and opening, the tree walk, the rest)"
    )


if __name__ == "__main__":
    main()
