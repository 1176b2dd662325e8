"""`leakscan audit --validate`: each unique secret validated once across every repository."""

from __future__ import annotations

import json
from pathlib import Path

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo, run_git
from tests.validation.conftest import FakeSonarHost
from tests.validation.test_cli_validation import PROBE, host_args


def test_audit_validates_each_secret_once(
    make_repo: MakeRepo,
    tmp_path: Path,
    eu: FakeSonarHost,
    us: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    run_cli: RunCli,
) -> None:
    shared, other = tokens.sqco(), tokens.sqco()
    us.script(shared, "ok")
    first = make_repo("one")
    first.commit({"a.properties": f"sonar.token={shared}\n", "b.properties": f"sonar.token={shared}\n"})
    second = make_repo("two")
    second.commit({"c.properties": f"sonar.token={shared}\nsonar.login={other}\n"})
    fork = tmp_path / "fork"
    run_git(tmp_path, "clone", "-q", str(first.path), str(fork))
    store = tmp_path / "s.sqlite"
    proc = run_cli(
        "audit",
        str(first.path),
        str(second.path),
        str(fork),
        "--store",
        str(store),
        "--cache",
        str(tmp_path / "c"),
        "--validate",
        *host_args(ca_bundle, eu, us),
    )
    assert proc.returncode == 1, proc.stderr
    assert "2 unique secret(s) validated" in proc.stderr
    assert us.count(shared, PROBE) == 1 and eu.count(shared, PROBE) == 1  # eu first, then us
    assert us.count(other, PROBE) == 1
    report = json.loads(run_cli("audit", "report", "--store", str(store)).stdout)
    from leakscan.models import Secret

    live, dead = Secret(shared).sha256, Secret(other).sha256
    statuses = sorted(
        (f["repository"], f["path"], f["secret_sha256"], f["validation"]["status"])
        for f in report["findings"]
    )
    assert statuses == sorted(
        [
            ("fork", "a.properties", live, "live"),
            ("fork", "b.properties", live, "live"),
            ("one", "a.properties", live, "live"),
            ("one", "b.properties", live, "live"),
            ("two", "c.properties", live, "live"),
            ("two", "c.properties", dead, "inactive"),
        ]
    )
    (item,) = [f for f in report["findings"] if f["repository"] == "one" and f["path"] == "a.properties"]
    assert [step["host"] for step in item["validation"]["evidence"]][-1] == us.url
    assert shared not in proc.stderr and shared not in json.dumps(report)
