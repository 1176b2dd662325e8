"""Every example of every rule file is a test case; rule files are linted; bad ones fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.errors import RuleFileError
from leakscan.examples import check_example, iter_example_cases, load_checked_rules
from leakscan.rules import Example, Rule, iter_builtin_rule_files, load_rules
from leakscan.synthetic import TokenGenerator
from tests.conftest import REPO_ROOT, RunCli

RULES_DIR = REPO_ROOT / "rules"
DATA = Path(__file__).parent / "core" / "data" / "rules"
CUSTOM = DATA / "custom" / "acme.toml"
INVALID = DATA / "invalid"

REPO_RULES = load_rules([RULES_DIR], builtin=False)
CASES = list(iter_example_cases(REPO_RULES))


@pytest.mark.parametrize(("rule", "example", "case_id"), CASES, ids=[c[2] for c in CASES])
def test_rule_example(rule: Rule, example: Example, case_id: str) -> None:
    outcome = check_example(rule, example, case_id)
    assert outcome.ok, f"{rule.source}: {case_id}: {outcome.detail}"


def test_every_rule_has_examples_of_both_kinds() -> None:
    ids = {case_id.rsplit("-", 1)[0] for _, _, case_id in CASES}
    assert {f"{rule.id}/{kind}" for rule in REPO_RULES for kind in ("example", "negative")} == ids
    assert len(CASES) == sum(len(r.examples) + len(r.negative_examples) for r in REPO_RULES)


def test_repository_rule_files_lint_clean() -> None:
    rules = load_checked_rules([RULES_DIR], builtin=False)
    assert [rule.id for rule in rules] == [
        "github-token",
        "npm-access-token",
        "sonarqube-cloud-scoped-org-token",
        "sonarqube-server-token",
        "sonarqube-legacy-token",
        "sonarqube-legacy-token-in-section",
        "sonarqube-legacy-token-basic-auth",
        "sonarqube-project-badge-token",
        "sonarqube-legacy-token-with-host",
    ]
    keys = {rule.id: rule.key for rule in rules}
    assert keys["sonarqube-cloud-scoped-org-token"] == "S7791"
    assert {keys[rule] for rule in keys if rule.startswith("sonarqube-") and "cloud" not in rule} == {"S6702"}


def test_packaged_rule_files_are_the_repository_ones() -> None:
    packaged = dict(iter_builtin_rule_files())
    on_disk = {f"rules/{p.name}": p.read_text(encoding="utf-8") for p in RULES_DIR.glob("*.toml")}
    assert packaged == on_disk


def test_a_failing_example_is_reported_with_what_was_found() -> None:
    [rule] = load_checked_rules([CUSTOM], builtin=False)
    wrong = Example(text="ACME_TOKEN=acme_{hex39}", secret="acme_{hex39}", path=".env")
    outcome = check_example(rule, wrong, "acme-internal-token/example-9")
    assert (outcome.ok, outcome.detail) == (False, "expected the secret at 11-55, found nothing")
    no_keyword = Example(text="ACME_TOKEN={hex40}", secret="{hex40}", path=".env")
    outcome = check_example(rule, no_keyword, "acme-internal-token/example-10")
    assert outcome.detail == "the text contains none of the rule's keywords"


_RULE = "rule 'acme-internal-token'"

# Fixture file → the problems it must produce (after "<file>: "); a trailing "…" is a prefix.
INVALID_CASES = {
    "bad-toml": ["invalid TOML: Expected ']]' at the end of an array declaration (at line 3, …"],
    "unknown-key": [f"{_RULE}: unknown field 'colour'"],
    "missing-key": [f"{_RULE}: missing field 'pattern'"],
    "wrong-type": [f"{_RULE}: field 'keywords': expected list"],
    "invalid-regex": [f"{_RULE}: field 'pattern': invalid regex: missing ) at position 61"],
    "no-secret-group": [f"{_RULE}: field 'pattern': has no group named 'secret'"],
    "unknown-validator": [
        f"{_RULE}: field 'validation': unknown validator 'acme-cloud' "
        "(known: sonarqube-cloud, sonarqube-server)"
    ],
    "unknown-severity": [
        f"{_RULE}: field 'severity': 'urgent' is not one of info, low, medium, high, critical"
    ],
    "bad-known-examples": [f"{_RULE}: field 'known_examples_sha256': each must be 64 lowercase hex"],
    "duplicate-id": [f"{_RULE}: field 'id': already defined in {{file}}"],
    "compile-bomb": [
        f"{_RULE}: field 'pattern': expands to 6250007 elements (at most 100000; counted repeats multiply)"
    ],
    "bomb-deny": [
        f"{_RULE}: field 'deny': regex '(?:x{{4000}}){{4000}}': expands to 16000000 elements "
        "(at most 100000; counted repeats multiply)"
    ],
    "nested-groups": [f"{_RULE}: field 'pattern': groups nested 61 deep (at most 50)"],
    "nul-keyword": [f"{_RULE}: field 'keywords': must not contain a NUL character"],
    "nan-threshold": [f"{_RULE}: field 'plausibility.min_entropy': must be a finite number >= 0, not nan"],
    "bad-window": [f"{_RULE}: field 'window': must be 1 to 1048576 bytes"],
    "failing-example": [
        f"{_RULE}: field 'examples[1]': expected the secret at 11-57, found nothing",
        f"{_RULE}: field 'negative_examples[1]': expected no match (wrongly listed as negative), "
        "found acme_…",
    ],
}


def _assert_problems(problems: list[str], name: str, file: str) -> None:
    expected = [f"{file}: {p.replace('{file}', file)}" for p in INVALID_CASES[name]]
    assert len(problems) == len(expected), problems
    for problem, want in zip(problems, expected, strict=True):
        if want.endswith("…"):
            assert problem.startswith(want[:-1]), problem
        else:
            assert problem == want


def test_every_invalid_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in INVALID.glob("*.toml")) == sorted(INVALID_CASES)


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_invalid_rule_file(name: str) -> None:
    path = INVALID / f"{name}.toml"
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules([path], builtin=False)
    _assert_problems(caught.value.problems, name, str(path))


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_invalid_rule_file_fails_a_scan(name: str, tmp_path: Path, run_cli: RunCli) -> None:
    """A scan given a malformed rule file exits 2 with one line per problem, and scans nothing."""
    path = INVALID / f"{name}.toml"
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = run_cli("scan", "--rules", str(path), str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert all(line.startswith("Error: ") for line in lines)
    _assert_problems([line.removeprefix("Error: ") for line in lines], name, str(path))


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (INVALID / "unknown-key.toml").read_text().replace('severity = "medium"', "severity = 3")
    path = tmp_path / "two.toml"
    path.write_text(text.replace('keywords = ["acme_"]', "keywords = []"))
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules([path], builtin=False)
    assert caught.value.problems == [
        f"{path}: {_RULE}: unknown field 'colour'",
        f"{path}: {_RULE}: field 'severity': expected str",
    ]


def test_rule_file_checks_for_missing_version_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text('title = "x"\n')
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules([path], builtin=False)
    assert caught.value.problems == [
        f"{path}: unknown top-level key(s): title",
        f"{path}: field 'version': must be 1",
        f"{path}: field 'rules': must be a non-empty array of tables",
    ]


def test_empty_rules_folder_and_missing_file_are_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules([tmp_path])
    assert caught.value.problems == [f"{tmp_path}: no rule files (*.toml) in this folder"]
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules([tmp_path / "nope.toml"])
    assert caught.value.problems == [f"{tmp_path / 'nope.toml'}: no such rule file or folder"]


def test_disable_rules(tmp_path: Path) -> None:
    ids = [r.id for r in load_checked_rules(disable=["github-token", "npm-access-token"])]
    assert ids == [
        "sonarqube-cloud-scoped-org-token",
        "sonarqube-server-token",
        "sonarqube-legacy-token",
        "sonarqube-legacy-token-in-section",
        "sonarqube-legacy-token-basic-auth",
        "sonarqube-project-badge-token",
        "sonarqube-legacy-token-with-host",
    ]
    with pytest.raises(RuleFileError) as caught:
        load_checked_rules(disable=["no-such-rule"])
    assert caught.value.problems == ["disable_rules: unknown rule id(s): no-such-rule"]


# --- the `rules` commands -------------------------------------------------------------------


def test_rules_check_builtin(run_cli: RunCli) -> None:
    proc = run_cli("rules", "check")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"9 rule(s), {len(CASES)} example(s), 0 failure(s)\n"


def test_rules_check_custom_file_passes(run_cli: RunCli) -> None:
    proc = run_cli("rules", "check", str(CUSTOM))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0,
        "1 rule(s), 2 example(s), 0 failure(s)\n",
        "",
    )


def test_rules_check_failing_examples(run_cli: RunCli) -> None:
    path = INVALID / "failing-example.toml"
    proc = run_cli("rules", "check", str(path))
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert lines[-1] == "1 rule(s), 2 example(s), 2 failure(s)"
    assert all(line.startswith("FAIL ") for line in lines[:-1])
    _assert_problems([line.removeprefix("FAIL ") for line in lines[:-1]], "failing-example", str(path))


def test_rules_check_malformed_file(run_cli: RunCli) -> None:
    path = INVALID / "no-secret-group.toml"
    proc = run_cli("rules", "check", str(path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"Error: {path}: {_RULE}: field 'pattern': has no group named 'secret'\n"


def test_rules_check_missing_file_is_a_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("rules", "check", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert "nope.toml" in proc.stderr and "does not exist" in proc.stderr


def test_rules_check_with_clirunner() -> None:
    result = CliRunner().invoke(cli, ["rules", "check", str(CUSTOM)])
    assert (result.exit_code, result.output) == (0, "1 rule(s), 2 example(s), 0 failure(s)\n")


def test_rules_list(run_cli: RunCli) -> None:
    proc = run_cli("rules", "list", "--rules", str(CUSTOM))
    assert (proc.returncode, proc.stderr) == (0, "")
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("github-token", "-", "high"),
        ("npm-access-token", "-", "high"),
        ("sonarqube-cloud-scoped-org-token", "S7791", "critical"),
        ("sonarqube-server-token", "S6702", "critical"),
        ("sonarqube-legacy-token", "S6702", "critical"),
        ("sonarqube-legacy-token-in-section", "S6702", "critical"),
        ("sonarqube-legacy-token-basic-auth", "S6702", "critical"),
        ("sonarqube-project-badge-token", "S6702", "info"),
        ("sonarqube-legacy-token-with-host", "S6702", "critical"),
        ("acme-internal-token", "-", "medium"),
    ]
    assert proc.stdout.splitlines()[2].endswith(
        "SonarQube Cloud Scoped Organization Token  (rules/sonarqube-cloud.toml)"
    )
    assert proc.stdout.splitlines()[-1].endswith(f"ACME Internal Token  ({CUSTOM})")


def test_scan_with_custom_rules_folder(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    acme = "acme_" + tokens.hex40()
    sqco = tokens.sqco()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.env").write_text(f"# settings\nACME_TOKEN={acme}\nSONAR_TOKEN={sqco}\n")
    proc = run_cli("scan", "--format", "json", "--rules", str(CUSTOM.parent), str(tree))
    assert proc.returncode == 1, proc.stderr
    found = [
        (f["rule_id"], f["rule_key"], f["path"], f["line"], f["column"], f["secret"])
        for f in json.loads(proc.stdout)["findings"]
    ]
    assert found == [
        ("acme-internal-token", None, f"{tree}/app.env", 2, 12, acme[:9] + "********"),
        (
            "sonarqube-cloud-scoped-org-token",
            "S7791",
            f"{tree}/app.env",
            3,
            13,
            sqco[:9] + "********",
        ),
    ]
    without = run_cli("scan", "--format", "json", str(tree))
    assert [f["rule_id"] for f in json.loads(without.stdout)["findings"]] == [
        "sonarqube-cloud-scoped-org-token"
    ]
