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


def test_the_pool_reports_what_one_process_does(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers send back only the bytes scanned for a file with nothing to report: the report
    (findings, skips, suppressed counts, bytes scanned) is the same as without the pool."""
    import base64
    import gzip
    import zipfile

    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(scan_module, "BATCH_BYTES", 20_000)
    for n in range(30):
        (tmp_path / f"plain{n:02}.txt").write_text("nothing to see here\n" * (n + 1))
    (tmp_path / "found.env").write_text(f"SONAR_TOKEN={tokens.sqco()}\n")
    (tmp_path / "allowed.py").write_text(f"token = '{tokens.sqco()}'  # leakscan:allow\n")
    (tmp_path / "wrapped.txt").write_text(base64.b64encode(f"t={tokens.sqco()}\n".encode()).decode() + "\n")
    (tmp_path / "packed.gz").write_bytes(gzip.compress(f"sonar.token={tokens.sqco()}\n".encode()))
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as bundle:
        bundle.writestr("conf/app.properties", f"sonar.token={tokens.sqco()}\n")
    (tmp_path / "image.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "big.log").write_text("x" * 50_000)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "link.txt").symlink_to(tmp_path / "found.env")
    reports = []
    for workers in ("1", "2"):
        outcome = CliRunner().invoke(
            cli,
            ["scan", "--workers", workers, "--max-file-size", "40000", "--format", "json", str(tmp_path)],
        )
        assert outcome.exit_code == 1, outcome.output
        report = json.loads(outcome.stdout)
        report["stats"].pop("duration_s", None)
        reports.append(report)
    assert reports[0] == reports[1]
    assert len(reports[1]["findings"]) == 4
    stats = reports[1]["stats"]
    assert (stats["files_scanned"], stats["suppressed"], len(stats["skipped"])) == (37, 1, 2)


@pytest.mark.parametrize("name", ["bundle.whl", "bundle.bin"])
def test_an_archive_by_its_name_weighs_enough_for_the_pool(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A file named as an archive weighs PACKED_WEIGHT times its size: with it the tree reaches
    the pool's threshold, with another name it does not; what it holds is found either way."""
    import io
    import os
    import zipfile

    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 1024 * 1024)
    token = tokens.sqco()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("conf/app.env", f"SONAR_TOKEN={token}\n" + os.urandom(20_000).hex())
    (tmp_path / name).write_bytes(packed.getvalue())
    for n in range(10):
        (tmp_path / f"f{n}.txt").write_text("plain text\n" * 100)
    pools: list[int] = []
    real = scan_module.map_batches

    def counted(*args: object, **kwargs: object) -> object:
        pools.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "map_batches", counted)
    result = scan(ScanOptions(paths=(str(tmp_path),), workers=2))
    assert [(f.path, f.secret.value) for f in result.findings] == [(f"{tmp_path / name}!conf/app.env", token)]
    assert result.stats.files_scanned == 11
    assert pools == ([1] if name.endswith(".whl") else [])
