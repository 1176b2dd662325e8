"""The curated public API: every name in __all__ resolves, nothing else is promised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import leakscan
from leakscan.synthetic import TokenGenerator
from tests.conftest import MakeRepo


@pytest.mark.parametrize("name", leakscan.__all__)
def test_exported_name_resolves(name: str) -> None:
    assert getattr(leakscan, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        leakscan.no_such_thing  # noqa: B018


def test_version_imports_nothing_heavy() -> None:
    """`leakscan --version` must not load the scanning machinery (start-up time)."""
    code = (
        "import sys; from leakscan.cli import main; main(['--version']); "
        "print(sorted(m for m in ('regex', 'pathspec', 'hyperscan', 'leakscan.scan') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"


PUBLIC_API = [
    "Blob",
    "CommitInfo",
    "CommitMessageOrigin",
    "Detector",
    "Engine",
    "ExitCode",
    "Failed",
    "FileOrigin",
    "Finding",
    "GitBlobOrigin",
    "HistoryOptions",
    "LayerOrigin",
    "LeakscanError",
    "Liveness",
    "Match",
    "Origin",
    "Overrides",
    "Rule",
    "ScanOptions",
    "ScanResult",
    "Scanner",
    "Secret",
    "Settings",
    "Severity",
    "Skipped",
    "StagedOrigin",
    "StdinOrigin",
    "TagMessageOrigin",
    "TokenCheck",
    "ValidationConfig",
    "Validation",
    "__version__",
    "exit_code_for",
    "load_rules",
    "resolve_settings",
    "scan",
    "scan_history",
    "scan_staged",
    "validate_tokens",
]


def test_all_is_exactly_the_curated_list() -> None:
    assert sorted(leakscan.__all__) == sorted(PUBLIC_API)


def test_library_use_without_click(tmp_path: Path, tokens: TokenGenerator) -> None:
    """The config file, the scan and the exit code from Python alone (click never imported)."""
    token = tokens.sqco()
    (tmp_path / ".leakscan.toml").write_text('exclude = ["skip/"]\nformat = "json"\n')
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / "a.txt").write_text(f"t={token}\n")
    (tmp_path / "b.txt").write_text(f"sonar.token={token}\n")
    code = (
        "import sys, leakscan\n"
        f"settings = leakscan.resolve_settings([{str(tmp_path)!r}])\n"
        "result = leakscan.scan(settings.options)\n"
        "print(settings.fmt, [f.path.rsplit('/', 1)[-1] for f in result.findings],"
        " leakscan.exit_code_for(result, 1, settings.fail_on), 'click' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "json ['b.txt'] 1 False"


def test_history_and_staged_and_tokens_from_python(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    token = tokens.server("u")
    repo = make_repo()
    repo.commit({"a.txt": f"sonar.token={token}\n"})
    repo.stage({"b.txt": f"sonar.token={token}\n"})
    history = leakscan.scan_history(leakscan.ScanOptions(), leakscan.HistoryOptions(repo=str(repo.path)))
    staged = leakscan.scan_staged(leakscan.ScanOptions(), str(repo.path))
    assert [(f.path, f.secret.value) for f in history.findings] == [("a.txt", token)]
    assert [(f.path, f.origin) for f in staged.findings] == [("b.txt", leakscan.StagedOrigin("b.txt"))]
    rules = leakscan.load_rules()
    [check] = leakscan.validate_tokens(["not-a-token"], rules, leakscan.ValidationConfig())
    assert check.rule is None and check.validation.status is leakscan.Liveness.NOT_CHECKED
