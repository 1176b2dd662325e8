"""HTML report benchmark: a history report with 10,000 findings, opened and filtered in headless
Chromium (target: both under a second).

Usage: python benchmarks/html.py [--findings 10000] [--runs 3]
Builds (once) a git repository under benchmarks/.work/ with ``git fast-import``: 1,000 commits by
5 authors over two years, each adding a file with 10 synthetic tokens, half of them deleted later.
Runs ``leakscan history --format html`` on it, then per run measures in Chromium: load (navigation
start to the end of the load event, the page's script included), a filter (rule + at HEAD) and a
sort (introduced), each to the next layout.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import WORK, leakscan_cmd  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402
from tests.browser import chromium  # noqa: E402

PER_COMMIT = 10
AUTHORS = ["Alice Example", "Bob Builder", "Carol Coder", "Dan Deployer", "Eve Engineer"]
START = 1_640_995_200  # 2022-01-01


def build_repo(path: Path, findings: int) -> None:
    """A repository whose history holds ``findings`` tokens (fast-import: seconds, not minutes)."""
    tokens = TokenGenerator("html-benchmark")
    commits = findings // PER_COMMIT
    step = 2 * 365 * 86400 // (commits + commits // 2)
    lines: list[str] = []
    when = START

    def commit(author: str, body: list[str]) -> None:
        nonlocal when
        when += step
        email = author.split()[0].lower() + "@example.com"
        lines.extend(
            [
                "commit refs/heads/main",
                f"committer {author} <{email}> {when} +0000",
                "data 6",
                "change",
                *body,
            ]
        )

    for index in range(commits):
        token = tokens.sqco if index % 2 else tokens.server
        text = "".join(f"SONAR_TOKEN_{n}={token()}\n" for n in range(PER_COMMIT))
        data = text.encode()
        commit(
            AUTHORS[index % len(AUTHORS)],
            [f"M 644 inline app{index % 40}/conf{index}.env", f"data {len(data)}", text],
        )
    for index in range(0, commits, 4):
        commit(AUTHORS[0], [f"D app{index % 40}/conf{index}.env"])
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reason = chromium.missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    repo = WORK / f"html-history-{args.findings}"
    if not repo.exists():
        started = time.perf_counter()
        build_repo(repo, args.findings)
        print(f"built {repo} in {time.perf_counter() - started:.1f}s")
    report = WORK / f"html-{args.findings}.html"
    started = time.perf_counter()
    proc = subprocess.run(
        [*leakscan_cmd(), "history", "--format", "html", "-o", str(report), str(repo)],
        capture_output=True,
        text=True,
    )
    print(f"leakscan history --format html: {time.perf_counter() - started:.2f}s, {proc.stderr.strip()}")
    print(f"report: {report.stat().st_size / 1e6:.1f} MB")
    loads, filters, sorts = [], [], []
    with tempfile.TemporaryDirectory() as profile:
        driver = chromium.start(Path(profile))
        try:
            for _ in range(args.runs):
                driver.get("about:blank")
                driver.get(report.as_uri())
                loads.append(
                    driver.execute_script(
                        "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd;"
                    )
                )
                filters.append(driver.execute_script(FILTER))
                sorts.append(driver.execute_script(SORT))
            rows = driver.execute_script(
                "return document.querySelectorAll('#findings-table tbody tr').length;"
            )
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
    print(f"rows: {rows}, console errors: {len(errors)}")
    for name, values in (("open (load event end)", loads), ("filter", filters), ("sort", sorts)):
        print(
            f"{name:24} median {statistics.median(values):7.0f} ms  "
            f"(runs: {', '.join(f'{v:.0f}' for v in values)})"
        )
    worst = max(statistics.median(loads), statistics.median(filters))
    print(f"target < 1000 ms: {'met' if worst < 1000 else 'MISSED'}")
    return 0


FILTER = """
const t0 = performance.now();
const rule = document.querySelector('[data-filter="rule"]');
rule.value = 'sonarqube-server-token'; rule.dispatchEvent(new Event('change'));
const head = document.querySelector('[data-filter="head"]');
head.value = 'yes'; head.dispatchEvent(new Event('change'));
document.body.offsetHeight;
return performance.now() - t0;
"""
SORT = """
const t0 = performance.now();
document.querySelector('th[data-sort="introduced"] button').click();
document.body.offsetHeight;
return performance.now() - t0;
"""

if __name__ == "__main__":
    raise SystemExit(main())
