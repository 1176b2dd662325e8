"""Golden reports: every format (text, JSON, SARIF, GitLab, SonarQube, HTML) for a fixed synthetic
tree and a fixed synthetic history.

The reports are compared with ``tests/data/golden/`` after masking what changes from run to run
(version, time, absolute paths, durations) and replacing each synthetic token by its name, so no
token-shaped string is committed. ``pytest --update-golden`` rewrites the files for review.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leakscan.models import ScanResult
from leakscan.options import ScanOptions
from leakscan.report import FORMATS, ReportContext, get_reporter
from leakscan.synthetic import TokenGenerator
from tests.conftest import MakeRepo
from tests.gitrepo import BOB

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
CONTEXT = ReportContext(version="0.0.0-golden", now=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
EXTENSIONS = {
    "html": "html",
    "text": "txt",
    "json": "json",
    "sarif": "sarif.json",
    "gitlab": "gitlab.json",
    "sonarqube": "sonarqube.json",
}
_DURATION = re.compile(r'("duration_s": )[0-9.e-]+|\b[0-9]+(?:\.[0-9]+)? ?(m?s)\b')


def _tokens(seed: str) -> dict[str, str]:
    """Named synthetic tokens; names end up in the golden files instead of the values."""
    gen = TokenGenerator(seed)
    return {
        "SQCO_1": gen.sqco(),
        "SQCO_2": gen.sqco(),
        "SQU_1": gen.server("u"),
        "SQP_1": gen.server("p"),
        "SQA_1": gen.server("a"),
        "HEX_1": gen.hex40(),
        "HEX_2": gen.hex40(),
        "GHP_1": gen.checksummed("ghp_"),
        "NPM_1": gen.checksummed("npm_"),
    }


def tree_files(t: dict[str, str]) -> dict[str, bytes]:
    """A small tree with one example of each kind of input the file scan meets."""
    return {
        "sonar-project.properties": f"sonar.projectKey=demo\nsonar.token={t['SQCO_1']}\n".encode(),
        "config/app.yml": f"sonar:\n  url: https://sonar.example.com\n  token: {t['SQU_1']}\n".encode(),
        ".env": f"SONAR_TOKEN={t['SQP_1']}\nOTHER=1\n".encode(),
        "ci/build.sh": f"sonar-scanner -Dsonar.login={t['HEX_1']}\n".encode(),
        "docs/notes.md": f'# \U0001f389 release\ntoken = "{t["SQCO_2"]}"\n'.encode(),
        "win/utf16.txt": codecs.BOM_UTF16_LE + f"key={t['SQA_1']}\r\n".encode("utf-16-le"),
        ".github/workflows/ci.yml": f"env:\n  GH: {t['GHP_1']}\n".encode(),
        ".npmrc": f"//registry.npmjs.org/:_authToken={t['NPM_1']}\n".encode(),
        "placeholder.properties": ("sonar.token=sqco_" + "x" * 59 + "\n").encode(),
        "allowed.txt": f"sonar.token={t['SQCO_1']}  # leakscan:allow\n".encode(),
        "image.bin": b"\x89PNG\r\n\x1a\n\0\0\0" + t["SQCO_1"].encode(),
        ".leakscanignore": b"ignored/\n",
        "ignored/secret.txt": f"sonar.token={t['SQCO_1']}\n".encode(),
        "src/clean.py": b"def main() -> int:\n    return 0\n",
        "logs/big.log": b"x" * 12_000 + f"\nsonar.token={t['SQCO_2']}\n".encode(),
    }


def build_history(make_repo: MakeRepo, t: dict[str, str]) -> Path:
    """Commits, a branch merged back, a secret in a commit message and in an annotated tag's."""
    repo = make_repo()
    repo.commit({"README.md": "demo\n", "app.properties": f"sonar.token={t['SQCO_1']}\n"}, "add app")
    repo.commit({"notes.txt": "nothing here\n"}, f"rotate token {t['SQU_1']}")
    repo.commit({"app.properties": "sonar.token=${SONAR_TOKEN}\n"}, "use the environment")
    repo.checkout("feature", create=True)
    repo.commit({"deploy/config.yml": f"sonar:\n  token: {t['SQP_1']}\n"}, "deploy config", author=BOB)
    repo.checkout("main")
    repo.merge("feature", "merge feature")
    repo.commit({"ci/build.sh": f"sonar-scanner -Dsonar.login={t['HEX_1']}\n"}, "ci")
    env, _ = repo._dated_env(BOB)
    repo.git("tag", "-a", "v1", "-m", f"release with {t['SQA_1']}", env=env)
    repo.commit({"image.bin": b"\0\1\2" + t["SQCO_2"].encode()}, "binary")
    return repo.path


def mask(text: str, tokens: dict[str, str], root: Path) -> str:
    """Replace tokens by their names and blank out what varies between runs and machines."""
    for name, value in sorted(tokens.items(), key=lambda item: -len(item[1])):
        text = text.replace(value, "{" + name + "}")
    for shown in {str(root), str(root.resolve()), root.resolve().as_uri()}:
        text = text.replace(shown, "<ROOT>")
    return _DURATION.sub(lambda m: (m.group(1) + "0") if m.group(1) else "<DURATION>", text)


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run `pytest --update-golden` and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def _render_all(result: ScanResult, kind: str, tokens: dict[str, str], root: Path, update: bool) -> None:
    for fmt in FORMATS:
        text = get_reporter(fmt)(result, CONTEXT)
        check_golden(f"{kind}.{EXTENSIONS[fmt]}", mask(text, tokens, root), update)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def test_tree_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_golden: bool) -> None:
    from leakscan.scan import scan

    t = _tokens("golden-tree")
    root = tmp_path / "tree"
    for name, data in tree_files(t).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    monkeypatch.chdir(root)
    result = scan(ScanOptions(paths=(".",), max_file_size=10_000, workers=1))
    _render_all(result, "tree", t, root, update_golden)


def test_history_reports(make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, update_golden: bool) -> None:
    from leakscan.history import HistoryOptions, scan_history

    t = _tokens("golden-history")
    root = build_history(make_repo, t)
    monkeypatch.chdir(root)
    result = scan_history(ScanOptions(), HistoryOptions(repo=".", workers=1))
    _render_all(result, "history", t, root, update_golden)
