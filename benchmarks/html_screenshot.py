"""Make a sample HTML report and a screenshot of it in headless Chromium.

Usage: python benchmarks/html_screenshot.py [--out docs/html-report.png] [--keep DIR]
Builds a small git repository in a temporary folder (synthetic tokens committed by three authors
over two years, some removed since), runs ``leakscan history --format html`` on it and saves a
PNG of the top of the page. ``--keep DIR`` keeps the repository and the report there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import leakscan_cmd  # noqa: E402

from leakscan.synthetic import TokenGenerator  # noqa: E402
from tests.browser import chromium  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AUTHORS = {"alice": "Alice Example", "bob": "Bob Builder", "carol": "Carol Coder"}


def build_repo(path: Path) -> None:
    """Commits with real dates, so the exposure timeline spans months."""
    tokens = TokenGenerator("html-screenshot")
    steps: list[tuple[str, str, dict[str, str | None]]] = [
        ("2023-02-10", "alice", {"sonar-project.properties": f"sonar.token={tokens.sqco()}\n"}),
        ("2023-05-22", "bob", {"ci/build.sh": f"export SONAR_TOKEN={tokens.server('u')}\n"}),
        ("2023-09-03", "alice", {"sonar-project.properties": "sonar.token=${SONAR_TOKEN}\n"}),
        (
            "2024-01-15",
            "carol",
            {"deploy/.env": f"SONAR_TOKEN={tokens.server('p')}\nNPM={tokens.checksummed('npm_')}\n"},
        ),
        ("2024-06-30", "bob", {"scripts/scan.sh": f"sonar-scanner -Dsonar.login={tokens.hex40()}\n"}),
        ("2024-11-12", "carol", {"deploy/.env": None}),
        ("2025-03-08", "alice", {"tools/gh.env": f"GH_TOKEN={tokens.checksummed('ghp_')}\n"}),
    ]
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, env=env, check=True)
    for day, who, files in steps:
        for name, text in files.items():
            target = path / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        name, email = AUTHORS[who], f"{who}@example.com"
        stamp = f"{day}T10:00:00+00:00"
        commit_env = {
            **env,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        subprocess.run(["git", "add", "-A"], cwd=path, env=env, check=True)
        subprocess.run(
            ["git", "commit", "-q", "-m", f"change on {day}"], cwd=path, env=commit_env, check=True
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "html-report.png")
    parser.add_argument("--keep", type=Path, help="keep the sample repository and report in this folder")
    args = parser.parse_args()
    reason = chromium.missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="leakscan-sample-"))
    try:
        build_repo(work / "repo")
        report = work / "report.html"
        subprocess.run(
            [*leakscan_cmd(), "history", "--format", "html", "-o", str(report), str(work / "repo")],
            check=False,
        )
        driver = chromium.start(work / "profile", width=1200, height=1000)
        try:
            driver.get(report.as_uri())
            args.out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.out))
        finally:
            driver.quit()
        print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KiB (report: {report})")
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("profile"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
