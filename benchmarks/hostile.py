"""Hostile-input benchmark: the audit's worst cases for the detector, at doubling sizes.

Usage: python benchmarks/hostile.py [--sizes 1 2 4 8] [--runs 2] [--case NAME ...]
Generates each case (deterministically) under benchmarks/.work/hostile, runs
`leakscan scan --format json FILE` on it, checks the planted tokens are found exactly, and prints
wall seconds and peak RSS per size and the time ratio per doubling. Time must grow linearly: a
ratio above 2.3 per doubling is marked FAIL (and the exit code is 1).

Cases (audit 2026-12): window-end (D-1: an in-section match that ends exactly at a 1 KiB window
end), many-tokens (D-2: a token every 21 lines), one-line (D-2: tokens on one long line),
keyword-dense (D-20: `sonar` on every line, a legacy token at the end), deny (D-6: a custom rule
whose deny regex backtracks catastrophically on the first and last candidates, keyword hits on
every line in between), utf16-head (D-9: UTF-16LE with a
BOM and 8 KiB of CJK before the first token).
"""

from __future__ import annotations

import argparse
import codecs
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CHILD_ENV, WORK, leakscan_cmd  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402

MB = 1024 * 1024
MAX_RATIO = 2.3
DENY_RULES = """version = 1
[[rules]]
id = "bench-key"
name = "Benchmark key"
severity = "low"
message = "m"
remediation = "r"
keywords = ["key="]
pattern = 'key=(?P<secret>[a-z]{10,80})'
deny = ['^(a|aa)+$']
[[rules.examples]]
text = "key=qwertyuiopasdf"
secret = "qwertyuiopasdf"
[[rules.negative_examples]]
text = "key=aaaaaaaaaaaa"
reason = "denied"
"""

Case = Callable[[int, TokenGenerator], tuple[bytes, list[str]]]


def window_end(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    lines = b"".join(b"  k%d: " % i + b"x" * 199 + b"\n" for i in range(4))
    lines += b"  k9: " + b"y" * (968 - len(lines) - 7) + b"\n"
    unit = b"sonar:\n" + lines + b"  token: " + b"0" * 40 + b"\n" + b"#" * 299 + b"\n"
    return unit * (size // len(unit)), []


def many_tokens(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    filler = ("f" * 69 + "\n") * 20
    parts, planted, total = [], [], 0
    while total < size:
        token = tokens.sqco()
        part = f"token: {token}\n{filler}"
        parts.append(part)
        planted.append(token)
        total += len(part)
    return "".join(parts).encode(), planted


def one_line(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    parts, planted, total = [], [], 0
    while total < size:
        token = tokens.sqco()
        part = f'"t": "{token}", "pad": "{"é" * 400}", '
        parts.append(part)
        planted.append(token)
        total += len(part.encode())
    return "".join(parts).encode(), planted


def keyword_dense(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    token = tokens.hex40()
    return b"sonar\n" * (size // 6) + f"sonar.login={token}\n".encode(), [token]


def deny(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    hostile = "a" * 42 + "b"
    filler = "key=0123456789 no candidate here\n"
    lines = filler * ((size - 100) // len(filler))
    return f"key={hostile}\n{lines}key={hostile[1:]}\n".encode(), [hostile, hostile[1:]]


def utf16_head(size: int, tokens: TokenGenerator) -> tuple[bytes, list[str]]:
    text, planted = many_tokens(size // 2 - 9600, tokens)
    data = (
        codecs.BOM_UTF16_LE
        + ("中文注释" * 1200 + "\n").encode("utf-16-le")
        + text.decode().encode("utf-16-le")
    )
    return data, planted


CASES: dict[str, Case] = {
    "window-end": window_end,
    "many-tokens": many_tokens,
    "one-line": one_line,
    "keyword-dense": keyword_dense,
    "deny": deny,
    "utf16-head": utf16_head,
}


def generate(name: str, megabytes: int, path: Path) -> None:
    """Write one case and its planted tokens (``path`` + ``.planted.json``)."""
    data, planted = CASES[name](megabytes * MB, TokenGenerator(f"hostile-{name}-{megabytes}"))
    path.write_bytes(data)
    path.with_suffix(".planted.json").write_text(json.dumps(planted))


# Runs the command as its own child and reports that child's wall time and peak RSS. A process's
# peak RSS as the kernel reports it includes the memory of the parent it was spawned from (vfork),
# so the measured process must be spawned by a small one, not by this script.
_WRAPPER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
result = {"wall": wall, "rss": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status)}
open(sys.argv[1], "w").write(json.dumps(result))
"""


def measure(argv: list[str]) -> tuple[float, float, bytes, int]:
    """(wall seconds, peak RSS MiB, stdout, exit code) of one run of ``argv``."""
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "result.json"
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(result_path), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=CHILD_ENV,
            check=False,
        )
        result = json.loads(result_path.read_text())
    return result["wall"], result["rss"], proc.stdout, result["rc"]


def run_case(name: str, megabytes: int, runs: int) -> tuple[float, float, str]:
    """(best wall seconds, peak RSS MiB, check) of scanning the case at this size (generated
    by a separate process, so that this one stays small)."""
    folder = WORK / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{megabytes}mb.txt"
    subprocess.run([sys.executable, __file__, "--generate", name, str(megabytes), str(path)], check=True)
    planted = json.loads(path.with_suffix(".planted.json").read_text())
    argv = [*leakscan_cmd(), "scan", "--format", "json", "--show-secrets", "--workers", "1"]
    if name == "deny":
        rules = folder / "deny.toml"
        rules.write_text(DENY_RULES)
        argv += ["--rules", str(rules)]
    best, peak, check = float("inf"), 0.0, ""
    for _ in range(runs):
        wall, rss, out, code = measure([*argv, str(path)])
        best, peak = min(best, wall), max(peak, rss)
        report = json.loads(out) if out else {"findings": [], "stats": {"errors": [None]}}
        found = [f["secret"] for f in report["findings"]]
        check = "found exactly" if found == planted else f"MISMATCH ({len(found)}/{len(planted)})"
        check += f", rc {code}, {len(report['stats']['errors'])} error(s)"
    return best, peak, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="megabytes")
    parser.add_argument("--runs", type=int, default=2, help="best of N")
    parser.add_argument("--case", choices=sorted(CASES), nargs="+", default=list(CASES))
    parser.add_argument("--generate", nargs=3, metavar=("CASE", "MB", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate[0], int(args.generate[1]), Path(args.generate[2]))
        return
    failed = False
    print(f"{'case':<15}{'MB':>4}{'seconds':>10}{'ratio':>8}{'peak MiB':>10}  check")
    for name in args.case:
        previous = None
        for megabytes in args.sizes:
            wall, rss, check = run_case(name, megabytes, args.runs)
            ratio = wall / previous if previous else float("nan")
            verdict = " FAIL" if previous and ratio > MAX_RATIO else ""
            failed |= bool(verdict) or "MISMATCH" in check
            print(f"{name:<15}{megabytes:>4}{wall:>10.2f}{ratio:>8.2f}{rss:>10.1f}  {check}{verdict}")
            previous = wall
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
