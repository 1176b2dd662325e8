"""The HTML report as text: CLI wiring, the refused --show-secrets, the CSP hashes, safe
embedding of scanned content, and the audit's extra fields (the browser tests are in
tests/browser)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.errors import UsageError
from leakscan.models import Secret
from leakscan.report.html_report import render_html
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import write_tree

HOSTILE = 'x"><img src=x onerror=alert(1)>'


def _tree(root: Path, tokens: TokenGenerator) -> tuple[Path, list[str]]:
    secrets = [tokens.sqco(), tokens.server("u")]
    write_tree(root, {"a.properties": f"sonar.token={secrets[0]}\n", f"{HOSTILE}.env": f"T={secrets[1]}\n"})
    return root, secrets


def _document(run_cli: RunCli, root: Path) -> dict[str, Any]:
    proc = run_cli("scan", "--format", "json", str(root))
    assert proc.returncode == 1, proc.stderr
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_show_secrets_is_refused_for_html(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    root, _ = _tree(tmp_path / "tree", tokens)
    proc = run_cli("scan", "--format", "html", "--show-secrets", str(root))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "Error: --show-secrets cannot be used with --format html: HTML reports always redact"
    ]
    outcome = CliRunner().invoke(cli, ["history", "--format", "html", "--show-secrets", str(root)])
    assert isinstance(outcome.exception, UsageError) and outcome.exception.exit_code == 2
    assert (
        str(outcome.exception)
        == "--show-secrets cannot be used with --format html: HTML reports always redact"
    )


def test_html_report_is_one_file_with_a_strict_csp(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    root, secrets = _tree(tmp_path / "tree", tokens)
    out = tmp_path / "report.html"
    proc = run_cli("scan", "--format", "html", "-o", str(out), str(root))
    assert proc.returncode == 1 and "2 finding(s)" in proc.stderr
    page = out.read_text(encoding="utf-8")
    style = re.findall(r"<style>(.*?)</style>", page, re.S)
    script = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(style) == len(script) == 1
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert policy is not None
    assert html.unescape(policy.group(1)) == (
        f"default-src 'none'; style-src {_hash(style[0])}; script-src {_hash(script[0])}; "
        "base-uri 'none'; form-action 'none'"
    )
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    for secret in secrets:
        assert secret not in page and Secret(secret).redacted() in page


def test_scanned_content_is_escaped_everywhere(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    root, _ = _tree(tmp_path / "tree", tokens)
    document = _document(run_cli, root)
    document["findings"][0]["author"] = "</script><!--<script>alert(2)</script>"
    document["findings"][0]["date"] = "2024-01-01T00:00:00+00:00"
    page = render_html(document)
    assert "<img" not in page and "alert(2)</script>" not in page
    assert '<option value="sonarqube-cloud-scoped-org-token">' in page
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert "<" not in data.group(1) and ">" not in data.group(1)
    rows = json.loads(data.group(1))["findings"]
    assert {r["author"] for r in rows} == {"", "</script><!--<script>alert(2)</script>"}
    assert {r["path"].rsplit("/", 1)[1] for r in rows} == {"a.properties", f"{HOSTILE}.env"}
    assert page.count('<rect class="bar') == 1  # the one dated finding


def test_whole_secret_in_a_document_is_redacted(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    root, secrets = _tree(tmp_path / "tree", tokens)
    proc = run_cli("scan", "--format", "json", "--show-secrets", str(root))
    page = render_html(json.loads(proc.stdout))
    for secret in secrets:
        assert secret not in page
    redacted = {f["secret"] for f in _document(run_cli, root)["findings"]}
    assert all(value in page for value in redacted)


def test_incomplete_scan_and_audit_fields(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    root, _ = _tree(tmp_path / "tree", tokens)
    document = _document(run_cli, root)
    document["stats"]["complete"] = False
    document["stats"]["errors"] = [{"path": "big<b>.bin", "error": "read failed"}]
    document["stats"]["refs_scanned"] = 7
    document["repositories"] = [{"name": "acme/api", "status": "failed", "error": "clone failed"}]
    item = document["findings"][0]
    item.update(
        repository="acme/api",
        refs=["refs/heads/main", "refs/tags/v1"],
        present_at_default_branch=True,
        date="2024-01-01T00:00:00+00:00",
        removed_at="2024-01-11T00:00:00+00:00",
    )
    page = render_html(document)
    assert 'id="incomplete"' in page and "big&lt;b&gt;.bin</code>: read failed" in page
    assert "<dt>refs</dt><dd>7</dd>" in page and "<code>acme/api</code>: clone failed" in page
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert data is not None
    embedded = json.loads(data.group(1))
    row = next(r for r in embedded["findings"] if r["repository"] == "acme/api")
    assert row["refs"] == ["refs/heads/main", "refs/tags/v1"] and row["default_branch"] == "yes"
    assert row["days"] == 10 and row["removed"] == "2024-01-11T00:00:00+00:00"
    assert embedded["repositories"] and 'data-filter="repository"' in page
    # The remediation is looked up from the built-in rule when the document has none.
    assert embedded["rules"][item["rule_id"]]["remediation"].startswith("Revoke the token")


def test_no_findings_still_reports_what_was_scanned(tmp_path: Path, run_cli: RunCli) -> None:
    write_tree(tmp_path / "tree", {"README": "nothing here\n"})
    out = tmp_path / "clean.html"
    proc = run_cli("scan", "--format", "html", "-o", str(out), str(tmp_path / "tree"))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    assert "No findings." in page and "<dt>files</dt><dd>1</dd>" in page
