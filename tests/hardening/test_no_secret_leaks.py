"""Across every command and output format, a full secret appears nowhere (stdout, stderr, files
written) unless --show-secrets asks for it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from leakscan.report import FORMATS
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import GitRepo, MakeRepo


def _corpus(make_repo: MakeRepo, tokens: TokenGenerator) -> tuple[GitRepo, list[str]]:
    secrets = [tokens.sqco(), tokens.server("u"), tokens.hex40(), tokens.checksummed("npm_")]
    repo = make_repo()
    repo.commit({"sonar-project.properties": f"sonar.token={secrets[0]}\n"})
    repo.commit({"ci.sh": f"export SONAR_TOKEN={secrets[1]}\nsonar.login={secrets[2]}\n"})
    repo.commit({"sonar-project.properties": "sonar.token=${SONAR_TOKEN}\n"})
    repo.stage({".npmrc": f"//registry.npmjs.org/:_authToken={secrets[3]}\n"})
    return repo, secrets


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _assert_absent(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_command_and_format_redacts(
    fmt: str, make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    repo, secrets = _corpus(make_repo, tokens)
    where = str(repo.path)
    dead = _closed_port()
    report = tmp_path / "report.out"
    runs = [
        run_cli("--debug", "scan", "--format", fmt, where),
        run_cli("scan", "--format", fmt, "-o", str(report), where),
        run_cli("history", "--format", fmt, where),
        run_cli("scan", "--staged", "--format", fmt, where),
        run_cli("scan", "--validate", "--cloud-url", dead, "--sonar-url", dead, "--format", fmt, where),
    ]
    assert [proc.returncode for proc in runs] == [1, 1, 1, 1, 1], [p.stderr for p in runs]
    _assert_absent(secrets, report.read_text(), *(p.stdout + p.stderr for p in runs))


def test_baseline_files_and_validate_output_redact(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    repo, secrets = _corpus(make_repo, tokens)
    baseline = tmp_path / "baseline.json"
    created = run_cli("baseline", "create", "-o", str(baseline), str(repo.path))
    history_baseline = tmp_path / "history-baseline.json"
    from_history = run_cli("baseline", "create", "--history", "-o", str(history_baseline), str(repo.path))
    dead = _closed_port()
    checks = [
        run_cli("validate", "--cloud-url", dead, "--sonar-url", dead, *secrets),
        run_cli("validate", "--format", "json", "--cloud-url", dead, "-", input="\n".join(secrets)),
    ]
    assert (created.returncode, from_history.returncode) == (0, 0), created.stderr + from_history.stderr
    assert [proc.returncode for proc in checks] == [2, 2]
    texts = [baseline.read_text(), history_baseline.read_text()]
    texts += [p.stdout + p.stderr for p in (created, from_history, *checks)]
    _assert_absent(secrets, *texts)
    assert all(secret[:4] in checks[0].stdout for secret in secrets if secret.startswith("sq"))


def test_show_secrets_is_the_only_way_to_see_them(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo, secrets = _corpus(make_repo, tokens)
    proc = run_cli("history", "--format", "json", "--show-secrets", str(repo.path))
    assert proc.returncode == 1
    for secret in secrets[:3]:
        assert secret in proc.stdout and secret not in proc.stderr
