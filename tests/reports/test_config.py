"""Configuration: discovery, every key's effect, command-line precedence, and clear errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.config import Config, discover_config, find_config, load_config
from leakscan.errors import ConfigError
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import write_tree

MakeRepoFiles = Callable[[dict[str, str]], Path]

CLOUD = "sonarqube-cloud-scoped-org-token"
SERVER = "sonarqube-server-token"


def _paths(stdout: str) -> list[tuple[str, str]]:
    return [(f["path"].rsplit("/", 1)[-1], f["rule_id"]) for f in json.loads(stdout)["findings"]]


# --- discovery -------------------------------------------------------------------------------


def test_found_by_walking_up_to_the_repository_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pkg" / "sub").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.leakscan]\nformat = "json"\n')
    assert find_config(repo / "pkg" / "sub") == (repo / "pyproject.toml").resolve()
    assert discover_config(None, repo / "pkg" / "sub").format == "json"


def test_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".leakscan.toml").write_text('format = "json"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert find_config(repo) is None
    assert discover_config(None, repo) == Config()


def test_outside_a_repository_only_the_scanned_folder_counts(tmp_path: Path) -> None:
    (tmp_path / ".leakscan.toml").write_text('format = "json"\n')
    (tmp_path / "sub").mkdir()
    assert find_config(tmp_path / "sub") is None
    assert find_config(tmp_path) == (tmp_path / ".leakscan.toml").resolve()


def test_dedicated_file_wins_and_pyproject_without_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[tool.leakscan]\nformat = "sarif"\n')
    (tmp_path / ".leakscan.toml").write_text('format = "gitlab"\n')
    assert discover_config(None, tmp_path).format == "gitlab"


def test_all_keys_parsed_and_paths_resolved_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "rules").mkdir(parents=True)
    digest = "AB" * 32
    config_file = tmp_path / "conf" / ".leakscan.toml"
    config_file.write_text(
        'rules = ["rules"]\ndisable_rules = ["npm-access-token"]\n'
        'exclude = ["fixtures/", "*.min.js"]\n'
        f'allow_secrets = ["{digest}"]\nbaseline = "base.json"\nformat = "sarif"\n'
        'max_file_size = "1KiB"\nfail_on = "live"\nsonar_urls = ["https://sonar.example.com"]\n'
        'cloud_urls = ["http://127.0.0.1:9000"]\n'
    )
    assert load_config(config_file) == Config(
        source=config_file,
        rules=(tmp_path / "conf" / "rules",),
        disable_rules=("npm-access-token",),
        exclude=("fixtures/", "*.min.js"),
        allow_secrets=frozenset({digest.lower()}),
        baseline=tmp_path / "conf" / "base.json",
        format="sarif",
        max_file_size=1024,
        fail_on="live",
        sonar_urls=("https://sonar.example.com",),
        cloud_urls=("http://127.0.0.1:9000",),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('formt = "json"', "unknown key 'formt' (did you mean 'format'?)"),
        ('exclude = "build/"', "key 'exclude': expected a list of strings"),
        ('exclude = ["a\\\\"]', "key 'exclude': bad pattern 'a\\\\'"),
        ('exclude = ["["]', "key 'exclude': bad pattern '['"),
        (
            'allow_secrets = ["abc"]',
            "key 'allow_secrets': not a SHA-256 hex digest (64 hex characters): 'abc'",
        ),
        ("max_file_size = true", "key 'max_file_size': expected a byte count or a size string"),
        ('max_file_size = "ten"', "key 'max_file_size': invalid size 'ten'"),
        (
            'format = "xml"',
            "key 'format': 'xml' is not one of text, json, sarif, gitlab, sonarqube",
        ),
        (
            'fail_on = "sometimes"',
            "key 'fail_on': invalid value 'sometimes': use one of any, live, proven-live, none",
        ),
        (
            'sonar_urls = ["sonar.example.com"]',
            "key 'sonar_urls': invalid URL 'sonar.example.com': expected https://HOST[:PORT][/PATH]",
        ),
        (
            'cloud_urls = ["http://gateway.example.com"]',
            "key 'cloud_urls': invalid URL 'http://gateway.example.com': plain http:// is only "
            "allowed for loopback addresses (127.0.0.0/8, ::1, localhost); use https://",
        ),
        (
            'sonar_urls = ["https://admin:hunter2@sonar.example.com"]',
            "key 'sonar_urls': invalid URL 'https://admin:***@sonar.example.com': no user info, "
            "query or fragment allowed",
        ),
        (
            'cloud_urls = ["https://gateway.example.com/?org=x"]',
            "key 'cloud_urls': invalid URL 'https://gateway.example.com/?org=x': no user info, "
            "query or fragment allowed",
        ),
        (
            'sonar_urls = ["https://sonar.example.com:99999"]',
            "key 'sonar_urls': invalid URL 'https://sonar.example.com:99999': Port out of range",
        ),
        ('rules = ["missing-rules"]', "key 'rules': no such rule file or folder"),
        ("baseline = 3", "key 'baseline': expected a string"),
    ],
    ids=[
        "unknown-key",
        "exclude-type",
        "exclude-bad-escape",
        "exclude-unterminated-bracket",
        "bad-hash",
        "size-bool",
        "size-text",
        "format",
        "fail-on",
        "url-scheme",
        "url-http-not-loopback",
        "url-password-masked",
        "url-query",
        "url-port",
        "rules-missing",
        "baseline-type",
    ],
)
def test_bad_configuration_names_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.leakscan]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        discover_config(None, tmp_path)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path.resolve() / 'pyproject.toml'}: [tool.leakscan]: ")
    assert message in text
    assert "hunter2" not in text


def test_urls_are_normalized_like_the_command_line_options(tmp_path: Path) -> None:
    (tmp_path / ".leakscan.toml").write_text(
        'sonar_urls = ["https://sonar.example.com/sonar/", "http://[::1]:9000"]\n'
    )
    assert discover_config(None, tmp_path).sonar_urls == (
        "https://sonar.example.com/sonar",
        "http://[::1]:9000",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tool = 1", "key 'tool': must be a table ([tool]), not an integer"),
        ('tool = "leakscan"', "key 'tool': must be a table ([tool]), not a string"),
        ("[tool]\nleakscan = [1]", "key 'tool.leakscan': must be a table, not an array"),
    ],
    ids=["tool-integer", "tool-string", "leakscan-array"],
)
@pytest.mark.parametrize("how", ["discovered", "explicit"])
def test_pyproject_with_a_tool_key_that_is_not_a_table(
    tmp_path: Path, body: str, message: str, how: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'{body}\n\n[project]\nname = "x"\n')
    with pytest.raises(ConfigError) as caught:
        discover_config(pyproject if how == "explicit" else None, tmp_path)
    found = pyproject if how == "explicit" else pyproject.resolve()
    assert str(caught.value) == f"{found}: {message}"


def test_pyproject_tool_not_a_table_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "pyproject.toml").write_text("tool = 1\n")
    proc = run_cli("scan", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"Error: {tmp_path.resolve() / 'pyproject.toml'}: key 'tool': must be a table ([tool]), "
        "not an integer\n"
    )


@pytest.mark.parametrize("command", ["scan", "history", "validate", "baseline create"])
def test_unknown_rule_to_disable_in_the_configuration_names_file_and_key(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli, make_repo: MakeRepoFiles, command: str
) -> None:
    repo = make_repo(
        {"pyproject.toml": '[tool.leakscan]\ndisable_rules = ["npm-access-token", "no-such-rule"]\n'}
    )
    target = [tokens.sqco()] if command == "validate" else ["."]
    proc = run_cli(*command.split(), *target, cwd=repo)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"Error: {repo.resolve() / 'pyproject.toml'}: [tool.leakscan]: key 'disable_rules': "
        "unknown rule id(s): no-such-rule\n"
    )


@pytest.mark.parametrize("command", ["scan", "history", "baseline prune"])
def test_unknown_rule_to_disable_on_the_command_line_names_the_option(
    tmp_path: Path, run_cli: RunCli, make_repo: MakeRepoFiles, command: str
) -> None:
    repo = make_repo({"pyproject.toml": '[tool.leakscan]\ndisable_rules = ["npm-access-token"]\n'})
    args = ["--disable-rule", "no-such-rule", "--disable-rule", "zz", "."]
    proc = run_cli(*command.split(), *args, cwd=repo)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "Error: --disable-rule: unknown rule id(s): no-such-rule, zz (see `leakscan rules list`)\n"
    )


def test_rule_to_disable_may_come_from_an_extra_rule_file(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    rules = Path(__file__).resolve().parents[1] / "core" / "data" / "rules" / "custom"
    tree = write_tree(tmp_path / "tree", {"a.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    (tree / ".leakscan.toml").write_text(f'rules = ["{rules}"]\ndisable_rules = ["acme-internal-token"]\n')
    proc = run_cli("scan", str(tree))
    assert proc.returncode == 1, proc.stderr


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".leakscan.toml").write_text("format = \n")
    with pytest.raises(ConfigError, match=r"\.leakscan\.toml: invalid TOML"):
        discover_config(None, tmp_path)


# --- end to end ------------------------------------------------------------------------------


def _leaky_tree(root: Path, tokens: TokenGenerator) -> dict[str, str]:
    secrets = {
        "keep": tokens.sqco(),
        "fixture": tokens.sqco(),
        "server": tokens.server("u"),
        "big": tokens.sqco(),
    }
    write_tree(
        root,
        {
            "app.properties": f"sonar.token={secrets['keep']}\n",
            "tests/fixtures/sample.env": f"SONAR_TOKEN={secrets['fixture']}\n",
            "deploy.sh": f"export SONAR_TOKEN={secrets['server']}\n",
            "vendor.js": "/*" + "x" * 3000 + f"*/ t='{secrets['big']}'\n",
        },
    )
    return secrets


def test_pyproject_changes_what_a_scan_reports(
    make_repo: Callable[[dict[str, str]], Path], tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo({"README.md": "demo\n"})
    secrets = _leaky_tree(repo, tokens)
    before = run_cli("scan", "--format", "json", ".", cwd=repo)
    assert sorted(_paths(before.stdout)) == [
        ("app.properties", CLOUD),
        ("deploy.sh", SERVER),
        ("sample.env", CLOUD),
        ("vendor.js", CLOUD),
    ]
    allowed = hashlib.sha256(secrets["keep"].encode()).hexdigest()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n'
        "[tool.leakscan]\n"
        'exclude = ["tests/fixtures/"]\n'
        f'disable_rules = ["{SERVER}"]\n'
        f'allow_secrets = ["{allowed}"]\n'
        'max_file_size = "2KiB"\n'
        'format = "json"\n'
    )
    after = run_cli("scan", ".", cwd=repo)
    assert after.returncode == 0, after.stderr
    report = json.loads(after.stdout)
    assert report["findings"] == []
    assert report["stats"]["skipped"] == [{"path": "./vendor.js", "reason": "too large (3074 bytes > 2048)"}]

    # Scanning a subfolder still finds the configuration at the repository root.
    (repo / "svc").mkdir()
    (repo / "svc" / "x.env").write_text(f"SONAR_TOKEN={tokens.sqco()}\n")
    sub = run_cli("scan", "svc", cwd=repo)
    assert sub.returncode == 1
    assert _paths(sub.stdout) == [("x.env", CLOUD)]


def test_command_line_overrides_the_file(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    _leaky_tree(tmp_path, tokens)
    (tmp_path / ".leakscan.toml").write_text(
        f'format = "sarif"\nmax_file_size = "2KiB"\nexclude = ["tests/"]\ndisable_rules = ["{SERVER}"]\n'
    )
    from_file = run_cli("scan", str(tmp_path))
    assert json.loads(from_file.stdout)["version"] == "2.1.0"
    overridden = run_cli(
        "scan",
        "--format",
        "json",
        "--max-file-size",
        "1MiB",
        "--exclude",
        "*.sh",
        "--disable-rule",
        "npm-access-token",
        str(tmp_path),
    )
    assert sorted(_paths(overridden.stdout)) == [
        ("app.properties", CLOUD),
        ("sample.env", CLOUD),
        ("vendor.js", CLOUD),
    ]


def test_explicit_config_file(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    tree = write_tree(tmp_path / "tree", {"a.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    config = tmp_path / "elsewhere.toml"
    config.write_text('fail_on = "none"\nformat = "json"\n')
    proc = run_cli("scan", "--config", str(config), str(tree))
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["findings"]) == 1


def test_baseline_key_resolves_against_the_config_folder(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    tree = write_tree(tmp_path / "tree", {"a.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    (tree / ".leakscan.toml").write_text('baseline = ".leakscan-baseline.json"\n')
    created = run_cli("baseline", "create", str(tree), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tree / ".leakscan-baseline.json").is_file()
    assert run_cli("scan", str(tree), cwd=tmp_path).returncode == 0
    assert run_cli("scan", "--baseline", str(tmp_path / "other.json"), str(tree)).returncode == 2


def test_bad_config_exit_2_with_file_and_key(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.leakscan]\nexclude = ["ok/", "bad\\\\"]\n')
    proc = run_cli("scan", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        f"Error: {tmp_path.resolve() / 'pyproject.toml'}: [tool.leakscan]: key 'exclude': bad pattern"
    )
    assert proc.stderr.count("\n") == 1


def test_cli_runner_unknown_key(tmp_path: Path) -> None:
    (tmp_path / ".leakscan.toml").write_text('exclude = []\nallow = ["x"]\n')
    outcome = CliRunner().invoke(cli, ["scan", str(tmp_path)])
    assert outcome.exit_code != 0
    assert isinstance(outcome.exception, ConfigError)
    assert str(outcome.exception) == (
        f"{(tmp_path / '.leakscan.toml').resolve()}: unknown key 'allow' (did you mean 'allow_secrets'?)"
    )
