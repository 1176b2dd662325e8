"""`leakscan history`: every token ever committed, credited to the commit that introduced it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from leakscan.history import HistoryOptions, Progress, scan_history
from leakscan.options import ScanOptions
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli, read_terminal
from tests.gitrepo import BOB, GitRepo, MakeRepo, run_git

RULE = "sonarqube-cloud-scoped-org-token"
CONFIG = "config/sonar-project.properties"


def history(run_cli: RunCli, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli("history", "--format", "json", "--show-secrets", *args)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc, json.loads(proc.stdout)


def found(report: dict[str, Any]) -> list[tuple[str, str, int, int, str | None]]:
    """(secret, path, line, column, commit) of every finding, in report order."""
    return [(f["secret"], f["path"], f["line"], f["column"], f["commit"]) for f in report["findings"]]


def properties(token: str) -> str:
    return f"sonar.organization=acme\nsonar.token={token}\n"


def test_deleted_token_found_with_introducing_commit(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"}, "readme")
    introduced = repo.commit({CONFIG: properties(token)}, "add config", author=BOB)
    repo.commit({CONFIG: None}, "remove config")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1, proc.stderr
    [finding] = report["findings"]
    assert finding["rule_id"] == RULE
    assert (finding["path"], finding["line"], finding["column"]) == (CONFIG, 2, 13)
    assert finding["secret"] == token
    assert finding["commit"] == introduced
    assert (finding["author"], finding["email"]) == (BOB.name, BOB.email)
    assert finding["date"] == repo.iso_date(introduced) == "2024-03-01T11:00:00+01:00"
    assert finding["commits_count"] == 1
    assert finding["present_at_head"] is False
    assert report["stats"]["commits_scanned"] == 3
    assert report["stats"]["complete"] is True


def test_text_output_shows_commit_author_and_date(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    introduced = repo.commit({CONFIG: properties(token)}, "add config", author=BOB)
    repo.commit({CONFIG: None}, "remove config")
    proc = run_cli("history", str(repo.path))
    assert proc.returncode == 1, proc.stderr
    assert f"{CONFIG}:2:13" in proc.stdout
    assert (
        f"commit:  {introduced[:12]} by Bob Builder <bob@example.org> on 2024-03-01T10:00:00+01:00"
        in proc.stdout
    )
    assert "history: in 1 commit(s), not in HEAD" in proc.stdout
    assert token not in proc.stdout + proc.stderr
    assert token[:9] + "********" in proc.stdout


def test_unmerged_branch(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.checkout("feature", create=True)
    on_branch = repo.commit({"ci.env": f"SONAR_TOKEN={token}\n"}, "ci", author=BOB)
    repo.checkout("main")
    _, report = history(run_cli, str(repo.path))
    assert found(report) == [(token, "ci.env", 1, 13, on_branch)]
    assert report["findings"][0]["present_at_head"] is False
    proc, report = history(run_cli, "--branch", "main", str(repo.path))
    assert (proc.returncode, report["findings"]) == (0, [])
    proc, report = history(run_cli, "--branch", "main", "--branch", "feature", str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [(token, "ci.env", 1, 13, on_branch)]


@pytest.mark.parametrize("annotated", [True, False], ids=["annotated-tag", "lightweight-tag"])
def test_token_only_in_a_tag(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, annotated: bool
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.checkout("release", create=True)
    tagged = repo.commit({"deploy.sh": f"export SONAR_TOKEN={token}\n"}, "release build")
    repo.tag("v1.0", annotated=annotated)
    repo.checkout("main")
    repo.git("branch", "-D", "release")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [(token, "deploy.sh", 1, 20, tagged)]
    _, report = history(run_cli, "--branch", "v1.0", str(repo.path))
    assert found(report) == [(token, "deploy.sh", 1, 20, tagged)]


def test_same_token_in_several_commits_and_paths(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    first = repo.commit({"a.properties": properties(token)}, "a")
    repo.commit({"a.properties": "# build settings\n" + properties(token)}, "edit a")
    copied = repo.commit({"sub/b.env": f"SONAR_TOKEN={token}\n"}, "b", author=BOB)
    repo.commit({"README.md": "docs\n"}, "docs")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [
        (token, "a.properties", 2, 13, first),
        (token, "sub/b.env", 1, 13, copied),
    ]
    assert [f["commits_count"] for f in report["findings"]] == [4, 4]
    assert [f["present_at_head"] for f in report["findings"]] == [True, True]
    # Four distinct blobs (two versions of a.properties, b.env, README.md), each scanned once.
    assert report["stats"]["files_scanned"] == 4


def test_renamed_file_blob_scanned_once(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    repo = make_repo()
    added = repo.commit({"old.properties": properties(token)}, "add")
    repo.git("mv", "old.properties", "new.properties")
    renamed = repo.commit(message="rename")
    _, report = history(run_cli, str(repo.path))
    assert found(report) == [
        (token, "new.properties", 2, 13, renamed),
        (token, "old.properties", 2, 13, added),
    ]
    assert [f["commits_count"] for f in report["findings"]] == [2, 2]
    assert [f["present_at_head"] for f in report["findings"]] == [True, True]
    assert report["stats"]["files_scanned"] == 1


def test_merge_commit(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    branch_token, merge_token = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.checkout("feature", create=True)
    on_branch = repo.commit({"f.env": f"SONAR_TOKEN={branch_token}\n"}, "feature", author=BOB)
    repo.checkout("main")
    repo.commit({"main.txt": "main work\n"}, "main work")
    repo.merge("feature", commit=False)
    merge = repo.commit({"m.env": f"SONAR_TOKEN={merge_token}\n"}, "merge feature, with a fix-up")
    assert len(repo.git("rev-list", "--parents", "-n1", merge).split()) == 3
    _, report = history(run_cli, str(repo.path))
    assert found(report) == [
        (branch_token, "f.env", 1, 13, on_branch),
        (merge_token, "m.env", 1, 13, merge),
    ]
    assert [f["commits_count"] for f in report["findings"]] == [2, 1]


def test_bare_clone(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path) -> None:
    token = tokens.sqco()
    repo = make_repo()
    introduced = repo.commit({CONFIG: properties(token)}, "add")
    repo.commit({"README.md": "hello\n"})
    bare = tmp_path / "bare.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(repo.path), str(bare))
    proc, report = history(run_cli, str(bare))
    assert proc.returncode == 1
    assert found(report) == [(token, CONFIG, 2, 13, introduced)]
    assert report["findings"][0]["present_at_head"] is True


def test_linked_worktree(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.git("worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    side = GitRepo(tmp_path / "side", ticks=10)
    introduced = side.commit({"side.env": f"SONAR_TOKEN={token}\n"}, "side work")
    _, report = history(run_cli, str(tmp_path / "side"))
    assert found(report) == [(token, "side.env", 1, 13, introduced)]
    assert report["findings"][0]["present_at_head"] is True
    _, from_main = history(run_cli, str(repo.path))
    assert found(from_main) == found(report)
    assert from_main["findings"][0]["present_at_head"] is False


def test_shallow_clone(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path) -> None:
    old, recent = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"old.env": f"SONAR_TOKEN={old}\n"}, "old")
    repo.commit({"old.env": None}, "remove old")
    last = repo.commit({"new.env": f"SONAR_TOKEN={recent}\n"}, "new")
    shallow = tmp_path / "shallow"
    run_git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow))
    proc, report = history(run_cli, str(shallow))
    assert proc.returncode == 1
    assert found(report) == [(recent, "new.env", 1, 13, last)]
    assert report["stats"]["notes"] == [
        "history truncated (shallow clone): commits before the shallow boundary are missing"
    ]
    assert "history truncated (shallow clone)" in proc.stderr


def test_since_commit_scans_only_new_commits(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    old, new = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    on_main = repo.commit({CONFIG: properties(old)}, "old leak on main")
    repo.checkout("pr", create=True)
    added = repo.commit({"ci.env": f"SONAR_TOKEN={new}\n"}, "new leak", author=BOB)
    # Editing another line of the file that holds the old leak makes a new blob: still not new.
    repo.commit({CONFIG: "# edited\n" + properties(old)}, "edit config")
    proc, report = history(run_cli, "--since-commit", "main", str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [(new, "ci.env", 1, 13, added)]
    assert report["stats"]["commits_scanned"] == 2
    _, everything = history(run_cli, str(repo.path))
    assert found(everything) == [(new, "ci.env", 1, 13, added), (old, CONFIG, 2, 13, on_main)]
    proc, report = history(run_cli, "--since-commit", "pr", str(repo.path))
    assert (proc.returncode, report["findings"], report["stats"]["commits_scanned"]) == (0, [], 0)


def test_max_commits(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    first, second, third = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"1.env": f"SONAR_TOKEN={first}\n"})
    c2 = repo.commit({"2.env": f"SONAR_TOKEN={second}\n"})
    c3 = repo.commit({"3.env": f"SONAR_TOKEN={third}\n"})
    _, report = history(run_cli, "--max-commits", "2", str(repo.path))
    assert found(report) == [(second, "2.env", 1, 13, c2), (third, "3.env", 1, 13, c3)]
    assert report["stats"]["commits_scanned"] == 2
    assert report["stats"]["notes"] == ["history limited to the newest 2 commit(s) (--max-commits)"]
    _, report = history(run_cli, "--max-commits", "1", str(repo.path))
    assert found(report) == [(third, "3.env", 1, 13, c3)]


def _delete_loose_object(repo: GitRepo, sha: str) -> None:
    loose = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
    assert loose.is_file()
    loose.chmod(0o644)
    loose.unlink()


@pytest.mark.parametrize("with_finding", [False, True], ids=["no-findings", "with-findings"])
def test_missing_blob_object(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, with_finding: bool
) -> None:
    repo = make_repo()
    files: dict[str, str | bytes | None] = {
        "lost.txt": "this blob will go missing\n",
        "kept.txt": "kept\n",
    }
    if with_finding:
        files["ci.env"] = f"SONAR_TOKEN={tokens.sqco()}\n"
    repo.commit(files)
    lost = repo.git("rev-parse", "HEAD:lost.txt")
    _delete_loose_object(repo, lost)
    proc, report = history(run_cli, str(repo.path))
    assert report["stats"]["errors"] == [{"path": "lost.txt", "error": f"missing blob object {lost}"}]
    assert report["stats"]["complete"] is False
    assert report["stats"]["files_scanned"] == (2 if with_finding else 1)
    assert len(report["findings"]) == (1 if with_finding else 0)
    assert proc.returncode == (1 if with_finding else 2)


def test_missing_tree_object(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"lib/deep.txt": "deep\n", "top.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    lost = repo.git("rev-parse", "HEAD:lib")
    _delete_loose_object(repo, lost)
    proc, report = history(run_cli, str(repo.path))
    assert report["stats"]["errors"] == [{"path": "lib", "error": f"missing tree object {lost}"}]
    assert [f["path"] for f in report["findings"]] == ["top.env"]
    assert proc.returncode == 1


def test_submodule_skipped_and_named(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    linked = "0123456789abcdef0123456789abcdef01234567"
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{linked},vendor/lib")
    repo.commit(message="add submodule")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 0, proc.stderr
    assert report["stats"]["skipped"] == [{"path": "vendor/lib", "reason": "submodule"}]
    assert report["stats"]["notes"] == ["submodules not entered: vendor/lib"]
    assert "submodules not entered: vendor/lib" in proc.stderr


def test_lfs_pointer_and_binary_skipped(make_repo: MakeRepo, run_cli: RunCli) -> None:
    pointer = (
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        "size 12345\n"
    )
    repo = make_repo()
    # a binary file with nothing printable in it (one with a token inside is found: tests/extract)
    repo.commit({"model.bin": pointer, "image.png": b"\x89PNG\r\n\x1a\n\0\0" + bytes(range(128, 256))})
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 0, proc.stderr
    assert sorted((s["path"], s["reason"]) for s in report["stats"]["skipped"]) == [
        ("image.png", "binary"),
        ("model.bin", "lfs-pointer"),
    ]
    assert report["stats"]["files_scanned"] == 0


def test_stash_entries_scanned(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    older, newer = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"app.properties": "sonar.organization=acme\n"})
    older_stash = repo.stash({"app.properties": properties(older)}, "first try")
    newer_stash = repo.stash({"app.properties": "# second\n" + properties(newer)}, "second try")
    assert repo.git("rev-parse", "refs/stash") == newer_stash != older_stash
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1
    secrets = {f["secret"]: f for f in report["findings"]}
    assert set(secrets) == {older, newer}
    assert secrets[older]["line"] == 2 and secrets[newer]["line"] == 3
    assert secrets[older]["present_at_head"] is False


def test_unknown_branch_and_since_commit_are_errors(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    proc = run_cli("history", "--branch", "nope", str(repo.path))
    assert proc.returncode == 2
    assert "Error: --branch 'nope': no such branch, tag or commit" in proc.stderr
    proc = run_cli("history", "--since-commit", "origin/main", str(repo.path))
    assert proc.returncode == 2
    assert "Error: --since-commit 'origin/main': no such branch, tag or commit" in proc.stderr


def test_not_a_repository(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("history", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {tmp_path}: not a git repository (nor inside one)"


def test_empty_repository_is_clean(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    proc, report = history(run_cli, str(repo.path))
    assert (proc.returncode, report["findings"], report["stats"]["commits_scanned"]) == (0, [], 0)


def _findings_snapshot(result: Any) -> list[tuple[Any, ...]]:
    return [
        (
            f.rule.id,
            f.secret.value,
            f.path,
            f.match.line,
            f.match.column,
            f.fingerprint,
            f.commit,
            f.commits_count,
            f.present_at_head,
        )
        for f in result.findings
    ]


def test_one_worker_and_two_workers_agree(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    planted = {}
    for number in range(30):
        files: dict[str, str | bytes | None] = {
            f"src/module_{number % 7}.py": f"VALUE = {number}\n" * (number + 1),
            f"docs/page_{number}.md": f"page {number}\n",
        }
        if number % 6 == 0:
            token = tokens.sqco()
            planted[token] = f"conf/{number}.env"
            files[f"conf/{number}.env"] = f"SONAR_TOKEN={token}\n"
        if number % 12 == 7:
            files[f"conf/{number - 7}.env"] = None
        repo.commit(files, f"commit {number}")
    options = ScanOptions()
    one = scan_history(options, HistoryOptions(repo=str(repo.path), workers=1))
    two = scan_history(options, HistoryOptions(repo=str(repo.path), workers=2))
    assert {f.secret.value: f.path for f in one.findings} == planted
    assert _findings_snapshot(one) == _findings_snapshot(two)
    assert (one.stats.files_scanned, one.stats.bytes_scanned) == (
        two.stats.files_scanned,
        two.stats.bytes_scanned,
    )
    assert (one.skipped, one.errors) == (two.skipped, two.errors) == ([], [])


def _run_with_tty_stderr(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (as a person would see it); stdout discarded."""
    import os
    import pty
    import sys

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "leakscan", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    ) as proc:
        os.close(follower)
        output = read_terminal(leader)
        code = proc.wait(timeout=120)
    os.close(leader)
    return code, output


def test_progress_bar_only_on_a_terminal(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({f"f{n}.txt": f"file {n}\n" for n in range(70)})
    code, terminal = _run_with_tty_stderr(["history", str(repo.path)], repo.path)
    assert code == 0
    assert "70/70 blobs" in terminal and "/s" in terminal
    code, terminal = _run_with_tty_stderr(["history", "--no-progress", str(repo.path)], repo.path)
    assert code == 0
    assert "blobs" not in terminal
    proc = run_cli("history", str(repo.path))
    assert "blobs" not in proc.stderr and "\r" not in proc.stderr


def test_progress_shows_a_spinner_until_the_total_is_known(make_repo: MakeRepo) -> None:
    """The bar's denominator never grows: while the tree walk is still finding blobs a spinner
    shows the count alone; a bar with ``done/total`` only once the total is final."""
    import io

    from leakscan.progress import ProgressBar

    repo = make_repo()
    for batch in range(4):
        repo.commit({f"d{batch}/f{n}.txt": f"file {batch} {n}\n" for n in range(100)})
    seen: list[Progress] = []
    stream = io.StringIO()
    bar = ProgressBar(stream)

    def record(progress: Progress) -> None:
        seen.append(progress)
        bar(progress)

    scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path)), progress=record)
    totals = {p.blobs_total for p in seen if p.total_known}
    assert totals == {400}
    assert seen[-1] == Progress(400, 400, seen[-1].bytes_done, True)
    drawn = stream.getvalue().split("\r")
    bars = [line for line in drawn if "/400 blobs" in line]
    assert bars and all("still walking" not in line for line in bars)
    assert all(line.startswith("[") for line in drawn if line)
    walking = io.StringIO()
    ProgressBar(walking)(Progress(64, 64, 2048, total_known=False))
    assert walking.getvalue().startswith("\r[/] 64 blobs, still walking trees, 2.0 KiB, ")
    assert "64/64" not in walking.getvalue()


def test_pack_order_progress_counts_bytes_as_chunks_finish(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakscan.sources import gitobjects
    from leakscan.sources import history as history_module

    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 0)
    monkeypatch.setattr(gitobjects, "CHUNK_BLOBS", 16)
    repo = make_repo()
    for batch in range(4):
        repo.commit({f"d{batch}/f{n}.txt": f"file {batch} {n}\n" * (n + 1) for n in range(50)})
    seen: list[Progress] = []
    result = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path)), progress=seen.append)
    during = [p.bytes_done for p in seen if p.blobs_done < 200]
    assert during and during == sorted(during) and during[-1] > 0  # not 0 B until the end
    assert seen[-1].bytes_done == result.stats.bytes_scanned
