"""Where one command's CPU goes, by process and thread (Linux): runs the command, samples
``/proc`` every few milliseconds for it and all its descendants, and prints each process's and
thread's CPU seconds when it ends (the last reading of each), with the wall time and the total.
A thread or process that lives shorter than a sampling interval can be missed.

Usage: python benchmarks/cpu_by_process.py [--interval 0.02] -- leakscan history REPO -q
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from each thread's ``children`` file)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue  # it ended meanwhile
    return found


def _threads(pid: int) -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, tid) -> (name, CPU seconds) for each thread of ``pid``."""
    readings: dict[tuple[int, int], tuple[str, float]] = {}
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                line = stat.read()
            fields = line[line.rindex(")") + 2 :].split()
            thread = line[line.index("(") + 1 : line.rindex(")")]
            name = f"{(command or thread)[:60]} [{thread}]"
            readings[(pid, int(task))] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    except (OSError, ValueError):
        pass
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    last: dict[tuple[int, int], tuple[str, float]] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        for pid in _descendants(proc.pid):
            for key, (name, cpu) in _threads(pid).items():
                # An ended process (a zombie) shows no command line: keep the name it had.
                known = last.get(key)
                last[key] = (known[0] if known is not None and len(known[0]) > len(name) else name, cpu)
        time.sleep(args.interval)
    wall = time.perf_counter() - start
    print(f"command: {' '.join(command)} (exit {proc.returncode})")
    print(f"wall {wall:.2f} s, CPU {sum(cpu for _, cpu in last.values()):.2f} s (as last sampled)")
    for (pid, tid), (name, cpu) in sorted(last.items(), key=lambda item: -item[1][1]):
        if cpu >= 0.01:
            print(f"{cpu:7.2f} s  pid {pid:<7} tid {tid:<7} {name}")


if __name__ == "__main__":
    main()
