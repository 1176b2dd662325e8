"""`leakscan history`: what it walks with --since-commit, which paths `exclude` leaves out, and the
places a token hides besides commit trees: blobs and trees refs point to, commit and tag messages."""

from __future__ import annotations

import json

from leakscan.history import HistoryOptions, scan_history
from leakscan.options import ScanOptions
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import ALICE, BOB, GitRepo, MakeRepo
from tests.history.test_history import found, history


def test_since_commit_ignores_other_branches(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """CI fetches every branch: a pull request is judged on the commits HEAD adds, not on what
    other branches, tags or the stash hold."""
    elsewhere, stashed, added = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.checkout("other", create=True)
    on_other = repo.commit({"other.env": f"SONAR_TOKEN={elsewhere}\n"}, "other leak")
    repo.tag("v0.9")
    repo.checkout("main")
    repo.checkout("pr", create=True)
    repo.stash({"README.md": f"SONAR_TOKEN={stashed}\n"})
    on_pr = repo.commit({"ci.env": f"SONAR_TOKEN={added}\n"}, "pr leak", author=BOB)
    proc, report = history(run_cli, "--since-commit", "main", str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [(added, "ci.env", 1, 13, on_pr)]
    assert report["stats"]["commits_scanned"] == 1
    _, report = history(run_cli, "--since-commit", "main", "--branch", "other", str(repo.path))
    assert found(report) == [(elsewhere, "other.env", 1, 13, on_other)]


def _scan(repo: GitRepo, *exclude: str) -> list[tuple[str, str, int, int, str | None]]:
    result = scan_history(ScanOptions(exclude=exclude), HistoryOptions(repo=str(repo.path)))
    return sorted(
        (f.match.secret.value, f.path, f.match.line, f.match.column, f.commit and f.commit.commit)
        for f in result.findings
    )


def test_exclude_patterns_apply_to_history(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    fixture, copied, same_tree = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit(
        {
            "tests/fixtures/only-here.env": f"SONAR_TOKEN={fixture}\n",
            "tests/fixtures/copied.env": f"SONAR_TOKEN={copied}\n",
            "a/secret.env": f"SONAR_TOKEN={same_tree}\n",
        },
        "fixtures",
    )
    # The same blob, then the same tree (a/ and b/ are identical), at paths that aren't excluded.
    copy = repo.commit({"app/ci.env": f"SONAR_TOKEN={copied}\n"}, "copy a fixture")
    same = repo.commit({"b/secret.env": f"SONAR_TOKEN={same_tree}\n"}, "same folder")
    assert repo.git("rev-parse", "HEAD:a") == repo.git("rev-parse", "HEAD:b")
    assert _scan(repo, "tests/fixtures/", "/a/secret.env") == sorted(
        [(copied, "app/ci.env", 1, 13, copy), (same_tree, "b/secret.env", 1, 13, same)]
    )
    assert len(_scan(repo)) == 5
    # From the configuration file, as the CLI reads it.
    repo.commit({".leakscan.toml": 'exclude = ["tests/fixtures/", "/a/secret.env"]\n'}, "config")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1
    assert found(report) == [
        (copied, "app/ci.env", 1, 13, copy),
        (same_tree, "b/secret.env", 1, 13, same),
    ]
    assert report["findings"][0]["commits_count"] == 3
    # And from the command line.
    repo.commit({".leakscan.toml": None}, "no config")
    proc, report = history(run_cli, "--exclude", "tests/fixtures/", "--exclude", "/a/", str(repo.path))
    assert found(report) == [
        (copied, "app/ci.env", 1, 13, copy),
        (same_tree, "b/secret.env", 1, 13, same),
    ]


def _tag_date(repo: GitRepo, name: str) -> str:
    return repo.git("for-each-ref", "--format=%(taggerdate:iso-strict)", f"refs/tags/{name}")


def test_refs_to_blobs_and_trees_are_scanned(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    light, annotated, in_tree = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.write({"key.txt": f"SONAR_TOKEN={light}\n", "other.txt": f"SONAR_TOKEN={annotated}\n"})
    light_blob = repo.git("hash-object", "-w", "key.txt")
    annotated_blob = repo.git("hash-object", "-w", "other.txt")
    repo.write({"key.txt": None, "other.txt": None})
    repo.tag("keyblob", light_blob)
    repo.tag("signedblob", annotated_blob, annotated=True)
    repo.stage({"secret/key.env": f"\nSONAR_TOKEN={in_tree}\n"})
    snapshot = repo.git("write-tree")
    repo.git("rm", "-q", "--cached", "secret/key.env")
    repo.tag("snapshot", snapshot, annotated=True)
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1, proc.stderr
    signed, snap = repo.git("rev-parse", "signedblob"), repo.git("rev-parse", "snapshot")
    assert found(report) == [
        (light, "refs/tags/keyblob", 1, 13, None),
        (annotated, "refs/tags/signedblob", 1, 13, signed),
        (in_tree, "refs/tags/snapshot/secret/key.env", 2, 13, snap),
    ]
    tagged = report["findings"][1]
    assert (tagged["author"], tagged["email"]) == (ALICE.name, ALICE.email)
    assert tagged["date"] == _tag_date(repo, "signedblob")
    assert (tagged["commits_count"], tagged["present_at_head"]) == (0, False)
    assert report["stats"]["skipped"] == []
    _, report = history(run_cli, "--branch", "snapshot", str(repo.path))
    assert found(report) == [(in_tree, "refs/tags/snapshot/secret/key.env", 2, 13, snap)]


def test_commit_and_tag_messages_are_scanned(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    pasted, in_tag, at_head = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    first = repo.commit({"a.txt": "1\n"}, f"configure CI\n\nSONAR_TOKEN={pasted}\n", author=BOB)
    repo.commit({"a.txt": "2\n"}, f"retry\n\nstill failing with SONAR_TOKEN={pasted}\n")
    env = {"GIT_COMMITTER_DATE": "1709290000 +0100"}
    repo.git("tag", "-a", "v1.0", "-m", f"release\n\nsonar.token={in_tag}", env=env)
    head = repo.commit({"a.txt": "3\n"}, f"SONAR_TOKEN={at_head}")
    proc, report = history(run_cli, str(repo.path))
    assert proc.returncode == 1, proc.stderr
    tag = repo.git("rev-parse", "v1.0")
    assert found(report) == [
        (at_head, "<commit message>", 1, 13, head),
        (pasted, "<commit message>", 3, 13, first),
        (in_tag, "<tag message: v1.0>", 3, 13, tag),
    ]
    by_secret = {f["secret"]: f for f in report["findings"]}
    assert by_secret[pasted]["author"] == BOB.name
    assert by_secret[pasted]["date"] == repo.iso_date(first)
    assert (by_secret[pasted]["commits_count"], by_secret[pasted]["present_at_head"]) == (2, False)
    assert (by_secret[at_head]["commits_count"], by_secret[at_head]["present_at_head"]) == (1, True)
    assert by_secret[in_tag]["date"] == "2024-03-01T11:46:40+01:00"
    # A range scan reads only the messages of the commits it walks.
    _, report = history(run_cli, "--since-commit", "v1.0", str(repo.path))
    assert found(report) == [(at_head, "<commit message>", 1, 13, head)]


def test_since_commit_reports_a_leak_copied_to_a_new_path(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """The blob already exists in the base, but the path is new: attributed per path, the copy
    is the pull request's (as `scan --staged` would block it), the original is not."""
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"a.properties": f"sonar.token={token}\n", "conf/x.txt": "x\n"})
    repo.git("checkout", "-q", "-b", "pr")
    pr = repo.commit(
        {"b.properties": f"sonar.token={token}\n", "conf/copy.properties": f"sonar.token={token}\n"}
    )
    proc = run_cli("history", "--since-commit", "main", "--format", "json", str(repo.path))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted((f["path"], f["commit"]) for f in report["findings"]) == [
        ("b.properties", pr),
        ("conf/copy.properties", pr),
    ]
    # An unchanged file next to a changed one, and a plain edit elsewhere, add nothing.
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", "edit")
    repo.commit({"conf/x.txt": "y\n"})
    proc = run_cli("history", "--since-commit", "main", "--format", "json", str(repo.path))
    assert (proc.returncode, json.loads(proc.stdout)["findings"]) == (0, [])
