"""No report format ever prints a whole secret unless --show-secrets is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.report import FORMATS
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import write_tree


def _plant(root: Path, tokens: TokenGenerator) -> list[str]:
    secrets = [tokens.sqco(), tokens.server("p"), tokens.checksummed("ghp_")]
    write_tree(
        root,
        {
            "sonar-project.properties": f"sonar.token={secrets[0]}\n",
            "ci/build.sh": f"mvn sonar:sonar -Dsonar.token={secrets[1]}\n",
            "ci/gh.env": f"GH_TOKEN={secrets[2]}\n",
        },
    )
    return secrets


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_without_show_secrets(
    fmt: str, tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    secrets = _plant(tmp_path / "tree", tokens)
    out = tmp_path / "report.out"
    to_stdout = run_cli("scan", "--format", fmt, str(tmp_path / "tree"))
    to_file = run_cli("scan", "--format", fmt, "-o", str(out), str(tmp_path / "tree"))
    assert (to_stdout.returncode, to_file.returncode) == (1, 1), to_stdout.stderr + to_file.stderr
    written = out.read_text()
    for secret in secrets:
        for text in (to_stdout.stdout, to_stdout.stderr, to_file.stdout, to_file.stderr, written):
            assert secret not in text
    # Each secret still shows up redacted, so the reports are not trivially empty.
    for secret in secrets:
        assert secret[:4] in written


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "html"])  # html refuses --show-secrets
def test_show_secrets_prints_them_whole(
    fmt: str, tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    secrets = _plant(tmp_path / "tree", tokens)
    proc = run_cli("scan", "--format", fmt, "--show-secrets", str(tmp_path / "tree"))
    assert proc.returncode == 1, proc.stderr
    for secret in secrets:
        assert secret in proc.stdout
        assert secret not in proc.stderr
