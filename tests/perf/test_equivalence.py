"""The fast paths must not change results: Hyperscan vs bytes.find, one worker vs several."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakscan import scan as scan_module
from leakscan.cli import cli
from leakscan.detect import Detector
from leakscan.options import ScanOptions
from leakscan.rules import load_rules
from leakscan.scan import scan
from leakscan.synthetic import TokenGenerator

pytest.importorskip("hyperscan", reason="the Hyperscan engine is only installed on x86-64 Linux")


def _corpus(tokens: TokenGenerator, seed: int) -> tuple[bytes, list[str]]:
    rng = random.Random(seed)
    planted = [tokens.sqco(), tokens.server("p"), tokens.hex40(), tokens.checksummed("ghp_")]
    parts: list[str] = []
    for n in range(400):
        parts.append(rng.choice(["Sonar", "SONAR_x", "sqco_short", "npm_", "ghp_", "plain text", "é"]))
        if n % 100 == 50:
            token = planted[n // 100]
            parts.append(f"sonar.login={token}" if len(token) == 40 else f" {token} ")
    return "\n".join(parts).encode(), planted


def test_engines_find_the_same(tokens: TokenGenerator) -> None:
    rules = load_rules()
    fast, slow = Detector(rules, engine="hyperscan"), Detector(rules, engine="python")
    for seed in range(5):
        data, planted = _corpus(tokens, seed)
        assert fast.keyword_hits(data) == slow.keyword_hits(data)
        found = [(m.rule.id, m.secret.value, m.start) for m in fast.detect(data).matches]
        assert found == [(m.rule.id, m.secret.value, m.start) for m in slow.detect(data).matches]
        assert sorted(value for _, value, _ in found) == sorted(planted)


def test_one_worker_and_two_agree(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool from 16 MiB on (the default threshold, 64 MiB, would make this test slow).
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 16 * 1024 * 1024)
    filler = ("x = compute(value, 'sonar')\n" * 2000).encode()
    planted = []
    per_file = scan_module.PARALLEL_MIN_BYTES // 40
    for n in range(60):
        body = filler * (per_file // len(filler) + 1)
        if n % 7 == 3:
            token = tokens.sqco()
            planted.append(token)
            body += f"token = '{token}'\n".encode()
        (tmp_path / f"f{n:03d}.py").write_bytes(body)
    results = {}
    for workers in (1, 2):
        options = ScanOptions(paths=(str(tmp_path),), workers=workers)
        result = scan(options)
        results[workers] = [(f.path, f.match.line, f.match.column, f.secret.value) for f in result.findings]
        assert result.stats.files_scanned == 60
    assert results[1] == results[2]
    assert sorted(secret for *_, secret in results[2]) == sorted(planted)
    outcome = CliRunner().invoke(
        cli, ["scan", "--workers", "2", "--format", "json", "--show-secrets", str(tmp_path)]
    )
    assert outcome.exit_code == 1, outcome.output
    cli_found = [
        (f["path"], f["line"], f["column"], f["secret"]) for f in json.loads(outcome.stdout)["findings"]
    ]
    assert cli_found == results[1]
