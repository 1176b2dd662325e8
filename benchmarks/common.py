"""Shared helpers for the benchmark scripts: timing child processes, medians, peak memory."""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
# leakscan's keyword database for the Python floors (pyfloor.py --write-db writes it).
KEYWORD_DB = WORK / "pyfloor-keywords.db"
# Measure leakscan as installed: a pip install compiles bytecode, so byte-compiling every module on
# every run (what PYTHONDONTWRITEBYTECODE=1 causes) is not part of what users pay.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Timings:
    """Wall times and peak resident memory of repeated runs of one command."""

    name: str
    walls: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def run_measured(
    argv: list[str],
    *,
    stdin_path: Path | None = None,
    shell: bool = False,
    cwd: Path | None = None,
    keep_output: bool = True,
) -> tuple[float, float, bytes, int]:
    """Run a command, return (wall seconds, peak RSS in MiB, stdout, exit code). Timed runs
    discard stdout: holding it here would also inflate the peak RSS of later children."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE if keep_output else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=stdin,
        shell=shell,
        cwd=cwd,
        env=CHILD_ENV,
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdin_path:
        stdin.close()  # type: ignore[union-attr]
    return wall, usage.ru_maxrss / 1024, out, proc.returncode


def compile_bytecode() -> None:
    """Byte-compile the leakscan package being measured (as a pip install does), so that no timed
    run compiles it: a shell with PYTHONDONTWRITEBYTECODE=1 never writes the caches."""
    import leakscan

    package = Path(leakscan.__file__).resolve().parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, env=CHILD_ENV)


def leakscan_cmd() -> list[str]:
    """The leakscan console script next to this Python, or `python -m leakscan`."""
    script = Path(sys.executable).parent / "leakscan"
    return [str(script)] if script.exists() else [sys.executable, "-m", "leakscan"]


def snapshot_cmd(ref: str) -> list[str]:
    """``python -m leakscan`` running the package as of ``ref``: unpacked under .work with
    ``git archive``, imported without site hooks or the working folder on the path (an editable
    install's finder would win over PYTHONPATH), its dependencies from this site-packages."""
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    target = WORK / f"ref-{commit[:12]}"
    if not (target / "leakscan").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit, "leakscan", "rules"], capture_output=True, check=True
        )
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
        (target / "rules").rename(target / "leakscan" / "rules_data")  # as pyproject.toml maps it
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(target)], check=True, env=CHILD_ENV)
    packages = sysconfig.get_paths()["purelib"]
    return ["env", f"PYTHONPATH={target}:{packages}", sys.executable, "-S", "-P", "-m", "leakscan"]


def ref_rows(name: str, args: list[str], ref: str) -> dict[str, list[str]]:
    """Rows timing ``leakscan ARGS`` as of ``ref`` and as of HEAD, both run from ``git archive``
    snapshots the same way (no site hooks), so that start-up costs compare like for like."""
    return {f"{name} ({label})": [*snapshot_cmd(rev), *args] for label, rev in ((ref, ref), ("HEAD", "HEAD"))}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"benchmark needs '{tool}' on PATH (Debian: apt-get install {tool})")
    return path


PEERS_DIR = os.environ.get("LEAKSCAN_BENCH_PEERS", "")


def peer(name: str, peers_dir: str | None = None) -> str | None:
    """A peer scanner's binary (``kingfisher``, ``betterleaks``): in ``peers_dir`` (option, or
    $LEAKSCAN_BENCH_PEERS) or on PATH; None when it is not installed (its rows are skipped)."""
    folder = peers_dir if peers_dir is not None else PEERS_DIR
    if folder and (Path(folder) / name).is_file():
        return str(Path(folder) / name)
    return shutil.which(name)


def interleave(
    commands: dict[str, list[str]], runs: int, *, shell: bool = False, cwd: Path | None = None
) -> dict[str, Timings]:
    """Run each command `runs` times, alternating between them, after one warm-up each."""
    results = {name: Timings(name) for name in commands}
    for argv in commands.values():
        run_measured(argv, shell=shell, cwd=cwd, keep_output=False)
    for _ in range(runs):
        for name, argv in commands.items():
            wall, rss, _, _ = run_measured(argv, shell=shell, cwd=cwd, keep_output=False)
            results[name].walls.append(wall)
            results[name].peak_rss_mb = max(results[name].peak_rss_mb, rss)
    return results


def print_table(results: dict[str, Timings], reference: str, target: dict[str, float] | None = None) -> None:
    """Medians, min-max, the ratio of medians to ``reference`` and the min-max of the ratios of
    runs made in the same round (the machine's load changes between rounds), peak RSS, and the
    target ratio where one is given."""
    ref = results[reference]
    print(
        f"{'command':<34}{'median s':>9}{'min-max s':>15}{'ratio':>7}{'ratio min-max':>15}"
        f"{'peak MiB':>10}{'target':>8}"
    )
    for name, t in results.items():
        ratios = [wall / base for wall, base in zip(t.walls, ref.walls, strict=True)]
        goal = (target or {}).get(name)
        mark = "" if goal is None else f"{goal:>6.2f}{'ok' if t.median / ref.median <= goal else '!!'}"
        print(
            f"{name:<34}{t.median:>9.3f}{min(t.walls):>7.3f}-{max(t.walls):<7.3f}"
            f"{t.median / ref.median:>7.2f}{min(ratios):>8.2f}-{max(ratios):<6.2f}"
            f"{t.peak_rss_mb:>10.1f}{mark:>8}"
        )
