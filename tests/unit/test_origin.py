"""Provenance: every kind of place a blob comes from, and the display chain of nested layers."""

from __future__ import annotations

import pytest

from leakscan.engine import fingerprint, make_finding
from leakscan.models import (
    Blob,
    CommitMessageOrigin,
    FileOrigin,
    GitBlobOrigin,
    LayerOrigin,
    Origin,
    ScanResult,
    StagedOrigin,
    StdinOrigin,
    TagMessageOrigin,
)
from leakscan.options import ScanOptions
from leakscan.scan import Scanner
from leakscan.synthetic import TokenGenerator

CASES: list[tuple[Origin, str, str]] = [
    (
        FileOrigin("./conf/app.properties", "conf/app.properties"),
        "./conf/app.properties",
        "conf/app.properties",
    ),
    (FileOrigin("/abs/x.txt"), "/abs/x.txt", "/abs/x.txt"),
    (StdinOrigin(), "<stdin>", "<stdin>"),
    (StagedOrigin("src/a.py", ((0, 10),)), "src/a.py", "src/a.py"),
    (GitBlobOrigin("ab" * 20, "deploy/config.yml", ("cd" * 20,)), "deploy/config.yml", "deploy/config.yml"),
    (CommitMessageOrigin("ef" * 20), "<commit message>", "<commit message>"),
    (TagMessageOrigin("v1.0"), "<tag message: v1.0>", "<tag message: v1.0>"),
    (
        LayerOrigin(FileOrigin("./deploy/bundle.zip", "deploy/bundle.zip"), member="conf/app.properties"),
        "./deploy/bundle.zip!conf/app.properties",
        "deploy/bundle.zip!conf/app.properties",
    ),
    (
        LayerOrigin(FileOrigin("k8s/secret.yaml"), encoding="base64"),
        "k8s/secret.yaml (base64)",
        "k8s/secret.yaml (base64)",
    ),
    (
        LayerOrigin(LayerOrigin(GitBlobOrigin("ab" * 20, "a.tar.gz"), member="a.tar"), member="x/.env"),
        "a.tar.gz!a.tar!x/.env",
        "a.tar.gz!a.tar!x/.env",
    ),
]


@pytest.mark.parametrize(
    ("origin", "shown", "stable"), CASES, ids=[type(c[0]).__name__ + str(i) for i, c in enumerate(CASES)]
)
def test_origin_paths(origin: Origin, shown: str, stable: str) -> None:
    assert (origin.path, origin.display(), origin.stable_path) == (shown, shown, stable)
    with pytest.raises(AttributeError, match="immutable"):
        setattr(origin, origin.__struct_fields__[0], "x")


def test_findings_take_path_and_fingerprint_from_the_origin(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    origin = LayerOrigin(FileOrigin("./b.zip", "b.zip"), member="app.properties")
    result = ScanResult()
    Scanner(ScanOptions()).scan_blob(Blob(origin, f"sonar.token={token}\n".encode()), result)
    [finding] = result.findings
    assert finding.origin == origin
    assert (finding.path, finding.stable_path) == ("./b.zip!app.properties", "b.zip!app.properties")
    assert finding.fingerprint == fingerprint(finding.rule.id, "b.zip!app.properties", finding.secret.sha256)
    assert make_finding(finding.match, origin) == finding


def test_scan_results_merge(tokens: TokenGenerator) -> None:
    from leakscan.models import Failed, Skipped, Stats

    scanner = Scanner(ScanOptions())
    one, two = ScanResult(), ScanResult(interrupted=True)
    scanner.scan_blob(Blob(FileOrigin("a.txt"), f"t={tokens.sqco()}\n".encode()), one)
    scanner.scan_blob(Blob(FileOrigin("b.txt"), f"t={tokens.sqco()}\n".encode()), two)
    one.record(Skipped("c.bin", "binary"))
    two.record(Failed("d.txt", "cannot read"))
    one.stats.notes.append("note")
    two.stats.notes.append("note")
    one.stats.extra["commits_scanned"] = 2
    two.stats.extra.update(commits_scanned=3, baseline_stale=1)
    one.clean_blobs += bytes(20)
    two.clean_blobs += b"\x01" * 20
    one.stats.suppressed, two.stats.suppressed = 1, 2
    merged = one.merge(two)
    assert merged.clean_blobs == bytes(20) + b"\x01" * 20
    assert [f.path for f in merged.findings] == ["a.txt", "b.txt"]
    assert (merged.skipped, merged.errors) == ([Skipped("c.bin", "binary")], [Failed("d.txt", "cannot read")])
    assert merged.stats == Stats(
        files_scanned=2,
        bytes_scanned=one.stats.bytes_scanned + two.stats.bytes_scanned,
        suppressed=3,
        duration_s=0.0,
        notes=["note"],
        extra={"commits_scanned": 5, "baseline_stale": 1},
    )
    assert merged.interrupted and not merged.complete
