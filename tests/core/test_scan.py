"""The pipeline as a library: scan(), Scanner.scan_blob, fingerprints, exit-code mapping."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from leakscan.errors import ExitCode
from leakscan.models import Blob, Failed, FileOrigin, ScanResult, Secret
from leakscan.options import ScanOptions
from leakscan.policy import exit_code_for
from leakscan.rules import load_rules
from leakscan.scan import Scanner, fingerprint, scan
from leakscan.synthetic import TokenGenerator
from tests.core.test_detect import make_rule

SQCO = "sonarqube-cloud-scoped-org-token"


def test_fingerprint_is_stable_and_reveals_nothing(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    blob_a = Blob(FileOrigin("./a/config.yml", "a/config.yml"), f"x: 1\ntoken: {token}\n".encode())
    blob_b = Blob(
        FileOrigin("/elsewhere/a/config.yml", "a/config.yml"), f"\n\n\nmoved: yes\ntoken: {token}\n".encode()
    )
    scanner = Scanner(ScanOptions())
    first, second = ScanResult(), ScanResult()
    scanner.scan_blob(blob_a, first)
    scanner.scan_blob(blob_b, second)
    [one], [two] = first.findings, second.findings
    assert (one.match.line, two.match.line) == (2, 5)
    assert one.fingerprint == two.fingerprint
    assert one.fingerprint == fingerprint(SQCO, "a/config.yml", one.secret.sha256)
    assert len(one.fingerprint) == 32 and int(one.fingerprint, 16) >= 0
    assert token[5:] not in one.fingerprint


def test_fingerprint_known_value() -> None:
    """Pinned so that a change (which would invalidate every baseline) can't go unnoticed."""
    assert fingerprint("rule", "a/b.txt", "0" * 64) == "6178dae738b3eaeea99a21065f536cc5"


def test_fingerprint_changes_with_rule_path_and_secret() -> None:
    base = fingerprint("r", "p", "a" * 64)
    assert (
        len(
            {
                base,
                fingerprint("s", "p", "a" * 64),
                fingerprint("r", "q", "a" * 64),
                fingerprint("r", "p", "b" * 64),
            }
        )
        == 4
    )


def test_scan_files_and_stdin(tmp_path: Path, tokens: TokenGenerator) -> None:
    token, stdin_token = tokens.sqco(), tokens.server("a")
    (tmp_path / "a.txt").write_text(f"t={token}\n")
    (tmp_path / "b.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = scan(
        ScanOptions(paths=(str(tmp_path), "-")),
        stdin=io.BytesIO(f"\n\nsonar.login={stdin_token}".encode()),
    )
    assert [(f.rule.id, f.path, f.match.line, f.match.column, f.secret.value) for f in result.findings] == [
        (SQCO, f"{tmp_path}/a.txt", 1, 3, token),
        ("sonarqube-server-token", "<stdin>", 3, 13, stdin_token),
    ]
    assert [(s.path, s.reason) for s in result.skipped] == [(f"{tmp_path}/b.bin", "binary")]
    assert (result.stats.files_scanned, result.stats.bytes_scanned) == (2, 67 + 58)
    assert result.complete and result.errors == []


def test_allow_secrets_by_sha256(tmp_path: Path, tokens: TokenGenerator) -> None:
    allowed, kept = tokens.sqco(), tokens.sqco()
    (tmp_path / "a.txt").write_text(f"{allowed}\n{kept}\n")
    result = scan(ScanOptions(paths=(str(tmp_path),), allow_secrets=frozenset({Secret(allowed).sha256})))
    assert [f.secret.value for f in result.findings] == [kept]


def test_regex_timeout_becomes_a_failed_input() -> None:
    rule = make_rule("(?P<secret>boom_(?:a|aa)+b)", ["boom_"], rule_id="boom")
    scanner = Scanner(ScanOptions(), rules=[rule])
    scanner.detector.regex_timeout = 0.05
    result = ScanResult()
    scanner.scan_blob(Blob(FileOrigin("x.txt"), b"boom_" + b"a" * 60 + b"c"), result)
    assert result.errors == [
        Failed(
            "x.txt",
            "rule 'boom': regex search timed out after 0.05s at bytes 0-66; "
            "rule skipped for the rest of this input",
        )
    ]
    assert not result.complete


@pytest.mark.parametrize(
    ("findings", "errors", "interrupted", "code", "expected"),
    [
        (0, 0, False, 1, ExitCode.CLEAN),
        (1, 0, False, 1, ExitCode.FINDINGS),
        (1, 0, False, 3, 3),
        (0, 1, False, 1, ExitCode.ERROR),
        (1, 1, False, 1, ExitCode.FINDINGS),
        (1, 1, False, 7, 7),
        (1, 0, True, 1, ExitCode.INTERRUPTED),
    ],
)
def test_exit_code_for(
    tokens: TokenGenerator, findings: int, errors: int, interrupted: bool, code: int, expected: int
) -> None:
    result = ScanResult(interrupted=interrupted)
    if findings:
        scanner = Scanner(ScanOptions(), rules=load_rules())
        scanner.scan_blob(Blob(FileOrigin("a"), tokens.sqco().encode()), result)
    result.errors.extend(Failed("b", "cannot read") for _ in range(errors))
    assert exit_code_for(result, code) == expected
