"""SARIF 2.1.0: schema-valid, what GitHub code scanning needs, stable fingerprints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from msgspec.structs import replace

from leakscan.models import Failed, Liveness, Skipped, Validation
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import (
    SARIF_SCHEMA,
    as_history,
    render,
    scan_tree,
    validate,
    write_tree,
)


def test_results_rules_and_regions(tmp_path: Path, tokens: TokenGenerator) -> None:
    sqco, squ = tokens.sqco(), tokens.server("u")
    write_tree(tmp_path, {"conf/app.properties": f"a=1\nsonar.token={sqco}\n", "b.txt": f"t {squ}\n"})
    sarif = json.loads(render(scan_tree(tmp_path), "sarif"))
    validate(sarif, SARIF_SCHEMA)
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"]) == (
        "leakscan",
        "9.8.7",
        "9.8.7",
    )
    assert [r["id"] for r in driver["rules"]] == [
        "sonarqube-cloud-scoped-org-token",
        "sonarqube-server-token",
    ]
    cloud = driver["rules"][0]
    assert cloud["shortDescription"]["text"] == "SonarQube Cloud Scoped Organization Token (S7791)"
    assert cloud["fullDescription"]["text"].startswith(
        "A SonarQube Cloud Scoped Organization Token is exposed"
    )
    assert "Revoke the token in SonarQube Cloud" in cloud["help"]["text"]
    assert "**Remediation:** Revoke the token" in cloud["help"]["markdown"]
    assert cloud["defaultConfiguration"] == {"level": "error"}
    assert cloud["properties"]["security-severity"] == "9.5"
    assert cloud["properties"]["tags"][:2] == ["security", "secret"]
    assert cloud["properties"]["precision"] == "high"
    assert run["columnKind"] == "unicodeCodePoints"
    # No automationDetails: the uploader's category (or its per-job default) must apply.
    assert "automationDetails" not in run
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]
    second, first = run["results"]  # sorted by path: b.txt, then conf/app.properties
    assert (second["ruleId"], second["ruleIndex"], second["level"]) == (
        "sonarqube-server-token",
        1,
        "error",
    )
    assert first["ruleId"] == "sonarqube-cloud-scoped-org-token" and first["ruleIndex"] == 0
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "conf/app.properties"}
    assert location["region"] == {
        "startLine": 2,
        "startColumn": 13,
        "endLine": 2,
        "endColumn": 13 + 64,
    }
    assert first["message"]["text"] == (
        f"SonarQube Cloud Scoped Organization Token exposed: {sqco[:9]}********."
    )
    assert "properties" not in first


def test_checksummed_rule_has_very_high_precision(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"ci.yml": f"token: {tokens.checksummed('ghp_')}\n"})
    [rule] = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["tool"]["driver"]["rules"]
    assert rule["properties"]["precision"] == "very-high"


def test_fingerprint_stable_when_lines_move_but_not_for_a_new_secret(
    tmp_path: Path, tokens: TokenGenerator
) -> None:
    first, second = tokens.sqco(), tokens.sqco()
    target = tmp_path / "app.properties"
    target.write_text(f"sonar.token={first}\n")
    before = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["results"][0]
    target.write_text(f"# a comment\n\nname=demo\nsonar.token={first}\n")
    moved = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["results"][0]
    target.write_text(f"# a comment\n\nname=demo\nsonar.token={second}\n")
    replaced = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["results"][0]
    assert moved["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert moved["partialFingerprints"] == before["partialFingerprints"]
    hashes = {r["partialFingerprints"]["primaryLocationLineHash"] for r in (before, replaced)}
    assert len(hashes) == 2


def test_same_secret_twice_in_a_file_gets_two_fingerprints(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    write_tree(tmp_path, {"a.txt": f"x={token}\ny={token}\n"})
    results = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["results"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert hashes[0].endswith(":1") and hashes[1].endswith(":2")
    assert hashes[0].split(":")[0] == hashes[1].split(":")[0]


def test_history_and_validation_properties(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    result.findings = [as_history(result.findings[0], sha="c0ffee" * 6 + "beef", live=True)]
    result.kind = "history"
    sarif = json.loads(render(result, "sarif"))
    validate(sarif, SARIF_SCHEMA)
    [item] = sarif["runs"][0]["results"]
    assert item["properties"] == {
        "commit": "c0ffee" * 6 + "beef",
        "author": "Ada Author",
        "email": "ada@example.com",
        "date": "2024-01-02T03:04:05+00:00",
        "commits_count": 3,
        "present_at_head": False,
        "validation": {
            "status": "live",
            "host": "https://sonarcloud.io",
            "checked_at": "2025-03-04T05:06:07Z",
            "reason": "",
        },
        "revocation": (
            "Revoke it on https://sonarcloud.io: an organization administrator opens "
            "Administration > Scoped Organization Tokens and revokes it (or uses the "
            "Authentication domain API); then create a new one in your CI's secret store."
        ),
    }
    assert "Introduced in commit c0ffeec0ffee by Ada Author" in item["message"]["text"]
    assert "Validation: live (https://sonarcloud.io)." in item["message"]["text"]
    assert item["message"]["text"].endswith(item["properties"]["revocation"])


def test_skips_errors_and_interruption_become_notifications(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    result.skipped.append(Skipped("big file.bin", "too large (10 bytes > 5)"))
    result.errors.append(Failed("locked.txt", "cannot open: Permission denied"))
    result.stats.notes.append("history truncated: shallow clone")
    sarif = json.loads(render(result, "sarif"))
    validate(sarif, SARIF_SCHEMA)
    [invocation] = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {
            "descriptor": {"id": "leakscan/skipped"},
            "level": "note",
            "message": {"text": "skipped: too large (10 bytes > 5)"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "big%20file.bin"}}}],
        },
        {
            "descriptor": {"id": "leakscan/error"},
            "level": "error",
            "message": {"text": "cannot open: Permission denied"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "locked.txt"}}}],
        },
        {
            "descriptor": {"id": "leakscan/note"},
            "level": "note",
            "message": {"text": "history truncated: shallow clone"},
        },
    ]
    result.errors.clear()
    result.interrupted = True
    interrupted = json.loads(render(result, "sarif"))["runs"][0]["invocations"][0]
    assert interrupted["executionSuccessful"] is False
    assert interrupted["toolExecutionNotifications"][-1]["descriptor"] == {"id": "leakscan/interrupted"}


def test_information_uri_when_known(tmp_path: Path) -> None:
    result = scan_tree(write_tree(tmp_path, {"a.txt": "clean\n"}))
    sarif = json.loads(render(result, "sarif", information_uri="https://leakscan.example/docs"))
    validate(sarif, SARIF_SCHEMA)
    assert sarif["runs"][0]["tool"]["driver"]["informationUri"] == "https://leakscan.example/docs"
    assert sarif["runs"][0]["results"] == []


def test_schema_check_is_real(tmp_path: Path, tokens: TokenGenerator) -> None:
    """The validator rejects a broken log (so the passing checks above mean something)."""
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    sarif = json.loads(render(scan_tree(tmp_path), "sarif"))
    sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate(sarif, SARIF_SCHEMA)


def test_cli_writes_valid_sarif(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    tree = write_tree(tmp_path / "tree", {"deploy/env.sh": f"export SONAR_TOKEN={tokens.sqco()}\n"})
    out = tmp_path / "leakscan.sarif"
    proc = run_cli("scan", "--format", "sarif", "-o", str(out), str(tree))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("leakscan: 1 finding(s)")
    sarif = json.loads(out.read_text())
    validate(sarif, SARIF_SCHEMA)
    [item] = sarif["runs"][0]["results"]
    assert item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/env.sh"
    assert item["locations"][0]["physicalLocation"]["region"]["startColumn"] == 20


def test_uri_is_repository_relative_from_a_subfolder(
    make_repo: Callable[[dict[str, str]], Path], tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo({"svc/conf/app.properties": f"sonar.token={tokens.sqco()}\n"})
    proc = run_cli("scan", "--format", "sarif", "svc", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    [item] = json.loads(proc.stdout)["runs"][0]["results"]
    uri = item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "svc/conf/app.properties"


def test_rule_without_sonar_key(tmp_path: Path, tokens: TokenGenerator) -> None:
    """npm tokens have no Sonar rule key: the title is the name alone; high severity is 8.0."""
    write_tree(tmp_path, {".npmrc": f"//registry.npmjs.org/:_authToken={tokens.checksummed('npm_')}\n"})
    [descriptor] = json.loads(render(scan_tree(tmp_path), "sarif"))["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["id"] == "npm-access-token"
    assert descriptor["name"] == "NpmAccessToken"
    assert descriptor["shortDescription"]["text"] == "npm Access Token"
    assert descriptor["properties"]["security-severity"] == "8.0"
    assert descriptor["properties"]["tags"] == ["security", "secret", "external/cwe/cwe-798"]


def test_live_finding_keeps_the_rules_security_severity(tmp_path: Path, tokens: TokenGenerator) -> None:
    """GitHub reads security-severity from the rule only: it stays the rule's value, one rule
    descriptor serves live and other findings alike, and the result says "live" (README)."""
    write_tree(
        tmp_path,
        {
            "a/.npmrc": f"//registry.npmjs.org/:_authToken={tokens.checksummed('npm_')}\n",
            "b/.npmrc": f"//registry.npmjs.org/:_authToken={tokens.checksummed('npm_')}\n",
        },
    )
    result = scan_tree(tmp_path)
    live, other = result.findings
    result.findings = [replace(live, validation=Validation(Liveness.LIVE, host="h")), other]
    sarif = json.loads(render(result, "sarif"))
    validate(sarif, SARIF_SCHEMA)
    run = sarif["runs"][0]
    [descriptor] = run["tool"]["driver"]["rules"]
    assert descriptor["properties"]["security-severity"] == "8.0"
    first, second = run["results"]
    assert (first["ruleIndex"], second["ruleIndex"]) == (0, 0)
    assert (first["level"], first["properties"]["validation"]["status"]) == ("error", "live")
    assert "Validation: live (h)." in first["message"]["text"]
    assert "properties" not in second
