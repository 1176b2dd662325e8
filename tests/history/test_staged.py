"""`leakscan scan --staged`: judge what will be committed (the index), only the lines it adds."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import GitRepo, MakeRepo


def staged(
    run_cli: RunCli, repo: GitRepo, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli("scan", "--staged", "--format", "json", "--show-secrets", *args, cwd=repo.path)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc, json.loads(proc.stdout)


def located(report: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(f["secret"], f["path"], f["line"], f["column"]) for f in report["findings"]]


def test_token_in_staged_lines_blocks(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"app/settings.properties": "sonar.organization=acme\n"})
    repo.stage({"app/settings.properties": f"sonar.organization=acme\nsonar.token={token}\n"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(token, "app/settings.properties", 2, 13)]
    assert report["findings"][0]["commit"] is None
    assert "commit blocked: 1 secret(s) in the staged changes" in proc.stderr
    assert "leakscan:allow" in proc.stderr and "baseline" in proc.stderr and "Revoke" in proc.stderr


def test_text_report_names_the_place(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.stage({"deploy.sh": f"#!/bin/sh\nexport SONAR_TOKEN={token}\n"})
    proc = run_cli("scan", "--staged", cwd=repo.path)
    assert proc.returncode == 1
    assert "deploy.sh:2:20  S7791 SonarQube Cloud Scoped Organization Token" in proc.stdout
    assert token not in proc.stdout + proc.stderr


def test_partially_staged_file_judged_by_index(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"a.env": "A=1\n", "b.env": "B=1\n"})
    # a.env: the token is staged, then removed in the working tree only: it will be committed.
    repo.stage({"a.env": f"A=1\nSONAR_TOKEN={token}\n"})
    repo.write({"a.env": "A=1\n"})
    # b.env: a clean change is staged, the token is only in the working tree: not committed.
    repo.stage({"b.env": "B=2\n"})
    repo.write({"b.env": f"B=2\nSONAR_TOKEN={tokens.sqco()}\n"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(token, "a.env", 2, 13)]


def test_token_only_in_working_tree_not_reported(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({"a.env": "A=1\n"})
    repo.write(
        {
            "a.env": f"SONAR_TOKEN={tokens.sqco()}\n",
            "untracked.env": f"SONAR_TOKEN={tokens.sqco()}\n",
        }
    )
    proc, report = staged(run_cli, repo)
    assert (proc.returncode, report["findings"]) == (0, [])
    assert "commit blocked" not in proc.stderr


def test_old_token_in_untouched_lines(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    old = tokens.sqco()
    repo = make_repo()
    repo.commit({"legacy.properties": f"sonar.token={old}\nretries=1\n"})
    repo.stage({"legacy.properties": f"sonar.token={old}\nretries=2\ntimeout=30\n"})
    proc, report = staged(run_cli, repo)
    assert (proc.returncode, report["findings"]) == (0, [])
    proc, report = staged(run_cli, repo, "--whole-files")
    assert proc.returncode == 1
    assert located(report) == [(old, "legacy.properties", 1, 13)]


def test_new_token_next_to_old_one(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    old, new = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"tokens.env": f"OLD={old}\n"})
    repo.stage({"tokens.env": f"OLD={old}\nSONAR_TOKEN={new}\n"})
    _, report = staged(run_cli, repo)
    assert located(report) == [(new, "tokens.env", 2, 13)]


def test_renamed_file_with_old_token_not_reported(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    body = "".join(f"line {n}\n" for n in range(20)) + f"sonar.token={tokens.sqco()}\n"
    repo.commit({"old.properties": body})
    repo.git("mv", "old.properties", "new.properties")
    proc, report = staged(run_cli, repo)
    assert (proc.returncode, report["findings"]) == (0, [])


def test_first_commit_of_a_repository(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.stage({"x/y.env": f"\nSONAR_TOKEN={token}\n", "logo.png": b"\x89PNG\0\0\0"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(token, "x/y.env", 2, 13)]
    assert report["stats"]["skipped"] == [{"path": "logo.png", "reason": "binary"}]


def test_path_argument_locates_the_repository(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.stage({"sub/dir/a.env": f"SONAR_TOKEN={token}\n", "top.env": "X=1\n"})
    proc = run_cli("scan", "--staged", "--format", "json", str(repo.path / "sub"))
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["sub/dir/a.env"]


def test_usage_errors(make_repo: MakeRepo, run_cli: RunCli, tmp_path: Any) -> None:
    repo = make_repo()
    proc = run_cli("scan", "--whole-files", cwd=repo.path)
    assert proc.returncode == 2
    assert "--whole-files only applies with --staged" in proc.stderr
    proc = run_cli("scan", "--staged", "a", "b", cwd=repo.path)
    assert proc.returncode == 2
    assert "--staged takes at most one PATH" in proc.stderr
    outside = tmp_path / "plain"
    outside.mkdir()
    proc = run_cli("scan", "--staged", str(outside))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {outside}: not a git repository (nor inside one)"


def test_clean_staged_change_with_click_runner(make_repo: MakeRepo, monkeypatch: Any) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "one\n"})
    repo.stage({"a.txt": "one\ntwo\n"})
    monkeypatch.chdir(repo.path)
    outcome = CliRunner().invoke(cli, ["scan", "--staged"])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.startswith("leakscan: 0 finding(s), 1 scanned")


def test_lone_cr_before_the_added_token(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    """git's lines end at LF only; the reported line counts a lone CR as a line end too."""
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"notes.txt": "title\rsubtitle\nA=1\n"})
    repo.stage({"notes.txt": f"title\rsubtitle\nA=1\nSONAR_TOKEN={token}\n"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(token, "notes.txt", 4, 13)]


def test_file_with_only_cr_line_endings(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"classic-mac.cfg": "A=1\rB=2\r"})
    repo.stage({"classic-mac.cfg": f"A=1\rB=2\rSONAR_TOKEN={token}\r"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(token, "classic-mac.cfg", 3, 13)]


def test_crlf_file_only_the_added_token(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    old, new = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"win.env": f"OLD={old}\r\nA=1\r\n"})
    repo.stage({"win.env": f"OLD={old}\r\nA=2\r\nSONAR_TOKEN={new}\r\nB=3\r\n"})
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [(new, "win.env", 3, 13)]


def test_exclude_patterns_apply_to_staged_files(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    kept = tokens.sqco()
    repo = make_repo()
    repo.stage(
        {
            "tests/fixtures/sample.env": f"SONAR_TOKEN={tokens.sqco()}\n",
            "docs/example.min.js": f"var t='{tokens.sqco()}';\n",
            "app/ci.env": f"SONAR_TOKEN={kept}\n",
        }
    )
    proc, report = staged(run_cli, repo, "--exclude", "tests/fixtures/", "--exclude", "*.min.js")
    assert proc.returncode == 1
    assert located(report) == [(kept, "app/ci.env", 1, 13)]
    assert report["stats"]["files_scanned"] == 1
    repo.write({".leakscan.toml": 'exclude = ["tests/fixtures/", "*.min.js"]\n'})
    proc, report = staged(run_cli, repo)
    assert located(report) == [(kept, "app/ci.env", 1, 13)]


def test_staged_leakscanignore_files_honoured(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    under_tests, at_root = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({".leakscanignore": "*.sample\n", "tests/.leakscanignore": "fixtures/\n"})
    repo.stage(
        {
            "tests/fixtures/deep/token.env": f"SONAR_TOKEN={tokens.sqco()}\n",
            "config/app.sample": f"SONAR_TOKEN={tokens.sqco()}\n",
            "tests/unit.env": f"SONAR_TOKEN={under_tests}\n",
            # tests/.leakscanignore applies under tests/ only.
            "fixtures/real.env": f"SONAR_TOKEN={at_root}\n",
        }
    )
    proc, report = staged(run_cli, repo)
    assert proc.returncode == 1
    assert located(report) == [
        (at_root, "fixtures/real.env", 1, 13),
        (under_tests, "tests/unit.env", 1, 13),
    ]
    _, report = staged(run_cli, repo, "--no-ignore")
    assert len(report["findings"]) == 4


def test_leakscanignore_judged_as_staged(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """The ignore files are read from the index: a new one counts once staged, not before."""
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.stage({"tests/fixtures/token.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    repo.write({".leakscanignore": "tests/fixtures/\n"})
    proc, report = staged(run_cli, repo)
    assert (proc.returncode, len(report["findings"])) == (1, 1)
    repo.stage({".leakscanignore": "tests/fixtures/\n"})
    proc, report = staged(run_cli, repo)
    assert (proc.returncode, report["findings"]) == (0, [])


def test_unreadable_git_index_file_is_an_error(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    proc = run_cli("scan", "--staged", cwd=repo.path, env={"GIT_INDEX_FILE": "no-such-index"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "Error: GIT_INDEX_FILE=no-such-index: no such index file"


def test_large_staged_file_is_streamed_not_skipped(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """The hook never fails open: a staged file over --max-file-size is read as a stream, whole,
    including a token across the 8 MiB chunk boundary and one near the end."""
    first, middle, last = tokens.sqco(), tokens.sqco(), tokens.sqco()
    filler = "INSERT INTO t VALUES (1, 'row');\n" * 300_000  # ~9.9 MB: more than one chunk
    cut = 8 * 1024 * 1024 - 40
    body = f"sonar.token={first}\n" + filler[:cut] + f"\nSONAR_TOKEN={middle}\n" + filler[cut:]
    repo = make_repo()
    repo.commit({"README.md": "hi\n"})
    repo.stage({"dump.sql": body + f"sonar.token={last}\n"})
    proc, report = staged(run_cli, repo, "--max-file-size", "1MiB")
    assert proc.returncode == 1, proc.stderr
    assert [(s, p) for s, p, _, _ in located(report)] == [
        (first, "dump.sql"),
        (middle, "dump.sql"),
        (last, "dump.sql"),
    ]
    assert report["stats"]["skipped"] == [] and report["stats"]["files_scanned"] == 1
    lines = body.count("\n")
    assert located(report)[2][2] == lines + 1


def test_large_staged_utf16_and_binary(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.stage(
        {
            "notes.txt": ("x = 1\n" * 400 + f"SONAR_TOKEN={token}\n").encode("utf-16"),
            "image.bin": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" * 600,
        }
    )
    proc, report = staged(run_cli, repo, "--max-file-size", "1KiB")
    assert proc.returncode == 1, proc.stderr
    assert located(report) == [(token, "notes.txt", 401, 13)]
    assert report["stats"]["skipped"] == [{"path": "image.bin", "reason": "binary"}]


def test_max_file_size_zero_is_a_usage_error(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "a\n"})
    for args in (("scan", "--staged"), ("scan",), ("history",), ("baseline", "create")):
        proc = run_cli(*args, "--max-file-size", "0", cwd=repo.path)
        assert proc.returncode == 2, args
        [line] = proc.stderr.splitlines()
        assert line.startswith("Error: --max-file-size: invalid size '0': must be at least 1 byte"), line
    (repo.path / ".leakscan.toml").write_text("max_file_size = 0\n")
    proc = run_cli("scan", cwd=repo.path)
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "max_file_size" in line and "must be at least 1 byte" in line
