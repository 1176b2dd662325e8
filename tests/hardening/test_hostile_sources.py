"""Hostile inputs to the sources and the CLI (audit of December 2026): ignore files, deep paths,
unreadable indexes, odd path arguments. Each case keeps the report and says what happened."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leakscan.cli import cli, main
from leakscan.models import Blob, Skipped
from leakscan.sources.git import PathFilter
from leakscan.sources.ignore import IgnoreMatcher, PatternError, compile_files, compile_lines, parse_line
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo, run_git
from tests.globs import GLOB_PARTS, NAMES

INVALID_LINES = ["!", "\\", "foo\\", "[z-a]", "x" * 100_000]


def _json(output: str) -> dict[str, object]:
    report = json.loads(output)
    assert isinstance(report, dict)
    return report


def _paths(report: dict[str, object]) -> list[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f["path"] for f in findings]


# --------------------------------------------------------------------------- ignore files (D-7, D-27)


@pytest.mark.parametrize(
    "line", INVALID_LINES, ids=["bang", "backslash", "trailing-backslash", "range", "long"]
)
def test_invalid_ignore_line_is_left_out_with_a_note(
    tmp_path: Path, tokens: TokenGenerator, line: str
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text(f"{line}\n*.log\n")
    (tmp_path / "sub" / "x.log").write_text(f"token={tokens.sqco()}\n")
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    result = CliRunner().invoke(cli, ["scan", "--format", "json", str(tmp_path)])
    assert result.exit_code == 1, result.output
    report = _json(result.stdout)
    assert _paths(report) == [str(tmp_path / "a.txt")]  # the valid line after it still applies
    stats = report["stats"]
    assert isinstance(stats, dict)
    [note] = stats["notes"]
    assert note.startswith(f"{tmp_path / 'sub' / '.gitignore'}:1: invalid pattern")
    assert len(note) < 300


def test_invalid_line_in_staged_leakscanignore(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    repo.commit({"readme.txt": "hi\n"})
    repo.stage({".leakscanignore": "!\n[z-a]\nfixtures/\n", "fixtures/f.env": f"t={tokens.sqco()}\n"})
    repo.stage({"top.properties": f"sonar.token={tokens.sqco()}\n"})
    result = CliRunner().invoke(cli, ["scan", "--staged", "--format", "json", str(repo.path)])
    assert result.exit_code == 1, result.output
    report = _json(result.stdout)
    assert _paths(report) == ["top.properties"]
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert [n.split(":")[:2] for n in stats["notes"]] == [[".leakscanignore", "1"], [".leakscanignore", "2"]]


@pytest.mark.parametrize("pattern", ["!", "[z-a]", "foo\\", "#comment"])
def test_invalid_exclude_is_a_one_line_usage_error(tmp_path: Path, run_cli: RunCli, pattern: str) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = run_cli("scan", "--exclude", pattern, str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: --exclude: bad pattern"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_matcher_follows_gitignore_semantics() -> None:
    lines = ["*.py", "!keep.py", "build/", "/top.txt", "docs/*.md", "**/deep/x", "a/**/b", "lit", "f?o"]
    lines += ["\\!bang", "in/**", "[!a]b", "[[:digit:]]x"]
    matcher, notes = compile_lines(lines, "t")
    assert notes == []
    cases = {
        ("a.py", False): True,
        ("s/keep.py", False): False,
        ("build", True): True,
        ("build", False): None,
        ("top.txt", False): True,
        ("s/top.txt", False): None,
        ("docs/a.md", False): True,
        ("docs/s/a.md", False): None,
        ("q/deep/x", False): True,
        ("a/b", False): True,
        ("a/x/y/b", False): True,
        ("z/lit", False): True,
        ("fzo", False): True,
        ("!bang", False): True,
        ("in", True): None,
        ("in/x", False): True,
        ("bb", False): True,
        ("ab", False): None,
        ("7x", False): True,
    }
    assert {case: matcher.decide(*case) for case in cases} == cases


@pytest.mark.parametrize("kept", [2, 1 << 16])
def test_a_name_decided_once_is_decided_the_same_in_every_folder(
    monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """Unanchored patterns' answers are remembered per name (and forgotten past the bound); the
    anchored patterns still see each whole path."""
    import leakscan.sources.ignore as ignore

    monkeypatch.setattr(ignore, "MAX_NAMES_KEPT", kept)
    lines = ["*.pyc", "build/", "!keep.pyc", "/top/keep.pyc", "docs/*.md", "x?y", "tmp"]
    names = ["a.pyc", "keep.pyc", "build", "README.md", "xzy", "tmp", "other"]
    paths = [f"{folder}{name}" for folder in ("", "top/", "docs/", "s/docs/", "a/b/") for name in names]
    walked, _ = compile_lines(lines, "t")
    answers = [(path, is_dir, walked.decide(path, is_dir)) for path in paths * 2 for is_dir in (False, True)]
    for path, is_dir, answer in answers:
        fresh, _ = compile_lines(lines, "t")
        assert fresh.decide(path, is_dir) == answer, (path, is_dir)
    assert ("top/keep.pyc", False, True) in answers and ("a/b/keep.pyc", False, False) in answers
    assert ("docs/README.md", False, True) in answers and ("s/docs/README.md", False, None) in answers


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab*?[]!^-:/\\. ", max_size=24))
def test_a_pattern_is_refused_or_its_regex_compiles(line: str) -> None:
    """Only a character class can give a body the regex compiler refuses, so parsing compiles
    only those lines to check them: any other accepted line must compile, alone and combined."""
    try:
        pattern = parse_line(line)
    except PatternError:
        return
    if pattern is not None:
        re.compile(pattern.body)
        compile_lines([line, "x*y", "/a/**/b"], "t")[0].decide("a/x/b", False)


_GLOBS = st.builds(
    lambda lead, parts, dir_only, negate: f"{'!' if negate else ''}{lead}{'/'.join(parts)}{dir_only}",
    st.sampled_from(["", "/"]),
    st.lists(st.sampled_from(GLOB_PARTS), min_size=1, max_size=4),
    st.sampled_from(["", "/"]),
    st.booleans(),
)
_PATHS = st.lists(st.sampled_from(NAMES), min_size=1, max_size=5)


def _one_by_one(lines: list[str], path: str, is_dir: bool) -> bool | None:
    """What the last pattern whose own regex matches says: the matcher's answer, without its
    dictionaries, combined regexes, remembered names or prefix checks."""
    decision = None
    for pattern in (parse_line(line) for line in lines):
        if pattern is None:
            continue
        subject = path if pattern.anchored else path.rsplit("/", 1)[-1]
        if (is_dir or not pattern.dir_only) and re.fullmatch(pattern.body, subject):
            decision = not pattern.negate
    return decision


@settings(max_examples=300, deadline=None)
@given(st.lists(_GLOBS, min_size=1, max_size=6), st.lists(st.tuples(_PATHS, st.booleans()), max_size=12))
def test_the_matcher_decides_as_its_patterns_one_by_one(
    lines: list[str], paths: list[tuple[list[str], bool]]
) -> None:
    """Every shortcut of the matcher (names and paths in dictionaries, ``*.ext`` suffixes, one
    regex for many globs, anchored globs tried only for paths starting with their literal
    prefix) gives the answer of trying each pattern's own regex in turn."""
    matcher, _ = compile_lines(lines, "t")
    for parts, is_dir in paths:
        path = "/".join(parts)
        assert matcher.decide(path, is_dir) == _one_by_one(lines, path, is_dir), (lines, path, is_dir)


def test_a_byte_order_mark_starts_no_pattern() -> None:
    """Only the first line of each file may start with one (an ignore file read from the index
    or a commit is decoded the same way); elsewhere it is part of the pattern, as in git."""
    matcher, notes = compile_files([("a", ["\ufeff*.log", "\ufeffx"]), ("b", ["\ufeff/top"])])
    assert notes == []
    assert matcher.decide("d/a.log", False) is True and matcher.decide("top", False) is True
    assert matcher.decide("x", False) is None and matcher.decide("\ufeffx", False) is True


def test_last_matching_pattern_decides_across_kinds() -> None:
    matcher, _ = compile_lines(["*.log", "!debug.log", "debug.*", "!debug.l?g"], "t")
    assert matcher.decide("debug.log", False) is False
    assert matcher.decide("debug.txt", False) is True
    assert matcher.decide("x.log", False) is True


def test_many_patterns_are_one_regex_not_one_per_pattern() -> None:
    """D-27: 4,000 patterns of every kind compile to dictionaries plus one combined regex."""
    lines = [f"name{n}" for n in range(1000)] + [f"*.e{n}" for n in range(1000)]
    lines += [f"dir{n}/*.tmp" for n in range(1000)] + [f"g{n}?[ab]" for n in range(1000)]
    matcher, notes = compile_lines(lines, "t")
    assert notes == []
    assert isinstance(matcher, IgnoreMatcher)
    assert matcher.combined_regexes() == 2
    assert matcher.decide("sub/name999", False) is True
    assert matcher.decide("x.e500", False) is True
    assert matcher.decide("dir7/a.tmp", False) is True
    assert matcher.decide("g12xa", False) is True
    assert matcher.decide("other.txt", False) is None


# --------------------------------------------------------------------------- deep paths (D-5)


def test_deep_folders_do_not_recurse(tmp_path: Path, tokens: TokenGenerator) -> None:
    deep = tmp_path / "d"
    middle = deep.joinpath(*["a"] * 50)
    current = deep.joinpath(*["a"] * 1100)
    subprocess.run(["mkdir", "-p", str(current)], check=True)  # Path.mkdir recurses too
    try:
        (current / "t.txt").write_text(f"token={tokens.sqco()}\n")
        (middle / "m.txt").write_text(f"token={tokens.sqco()}\n")
        (deep / ".gitignore").write_text("*.log\n")
        result = CliRunner().invoke(cli, ["scan", "--format", "json", str(deep)])
        assert result.exit_code == 1, result.output
        assert sorted(len(p) for p in _paths(_json(result.stdout))) == [
            len(str(middle / "m.txt")),
            len(str(current / "t.txt")),
        ]
    finally:
        subprocess.run(["rm", "-rf", str(deep)], check=True)  # so does pytest's tmp_path cleanup


def test_deep_staged_path_does_not_recurse(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    repo.commit({"readme.txt": "hi\n"})
    repo.stage({"top.properties": f"sonar.token={tokens.sqco()}\n", ".leakscanignore": "*.log\n"})
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=repo.path,
            input=f"sonar.token={tokens.sqco()}\n".encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    deep_path = "a/" * 1500 + "t.properties"
    run_git(repo.path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{deep_path}")
    for extra in ([], ["--exclude", "*.bin"]):
        result = CliRunner().invoke(cli, ["scan", "--staged", "--format", "json", *extra, str(repo.path)])
        assert result.exit_code == 1, result.output
        assert sorted(_paths(_json(result.stdout))) == sorted([deep_path, "top.properties"])


def test_path_filter_decides_deep_paths_iteratively() -> None:
    files = {"": b"keep/\n", "x/": b"*.txt\n!ok.txt\n"}
    paths = PathFilter(("*.bin",), files.get)
    deep = "x/" + "a/" * 5000
    assert paths.excluded(deep + "t.txt") is True
    assert paths.excluded(deep + "ok.txt") is False
    assert paths.excluded(deep + "t.bin") is True
    assert paths.excluded("keep/" + "a/" * 3000 + "ok.txt") is True


# --------------------------------------------------------------------------- unreadable index (D-12)


def test_tracked_ignored_file_scanned_when_libgit2_cannot_read_the_index(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    repo.commit({".env": f"sonar.token={tokens.sqco()}\n", "build/keep.txt": "x\n"})
    repo.commit({".gitignore": ".env\nbuild/\n"})
    (repo.path / "build" / "untracked.env").write_text(f"sonar.token={tokens.sqco()}\n")
    import pygit2

    def refuse(*args: object, **kwargs: object) -> None:
        raise pygit2.GitError("unknown object format 'sha256'")

    monkeypatch.setattr(pygit2, "Repository", refuse)
    result = CliRunner().invoke(cli, ["scan", "--format", "json", str(repo.path)])
    assert result.exit_code == 1, result.output
    assert _paths(_json(result.stdout)) == [str(repo.path / ".env")]


def test_sha256_repository_tracked_ignored_file_is_scanned(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    try:
        run_git(repo, "init", "-q", "--object-format=sha256")
    except AssertionError:
        pytest.skip("this git cannot create SHA-256 repositories")
    (repo / ".env").write_text(f"sonar.token={tokens.sqco()}\n")
    run_git(repo, "add", ".env")
    run_git(repo, "commit", "-qm", "e")
    (repo / ".gitignore").write_text(".env\n")
    run_git(repo, "add", ".gitignore")
    run_git(repo, "commit", "-qm", "i")
    proc = run_cli("scan", "--format", "json", str(repo))
    assert proc.returncode == 1, proc.stderr
    assert _paths(_json(proc.stdout)) == [str(repo / ".env")]


def test_unreadable_index_without_git_scans_ignored_files_and_says_why(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    repo.commit({".env": f"sonar.token={tokens.sqco()}\n"})
    repo.commit({".gitignore": ".env\n"})
    (repo.path / ".git" / "index").write_bytes(b"garbage")
    monkeypatch.setenv("PATH", os.devnull)
    result = CliRunner().invoke(cli, ["scan", "--format", "json", str(repo.path)])
    assert result.exit_code == 1, result.output
    report = _json(result.stdout)
    assert _paths(report) == [str(repo.path / ".env")]
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert any("cannot read the git index" in note for note in stats["notes"])


# --------------------------------------------------------------------------- hostile commits and refs


def _raw_commit(repo: Path, author_date: str) -> str:
    tree = run_git(repo, "write-tree")
    body = f"tree {tree}\nauthor A <a@e> {author_date}\ncommitter C <c@e> 1700000000 +0000\n\nm\n"
    commit = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
            cwd=repo,
            input=body.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    run_git(repo, "update-ref", "refs/heads/main", commit)
    run_git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    return commit


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("999999999999999 +0100", "@999999999999999 +0100"),
        ("-99999999999 +0000", "@-99999999999 +0000"),
        ("1700000000 +2359", "2023-11-15T22:12:20+23:59"),
        ("1700000000 -0130", "2023-11-14T20:43:20-01:30"),
    ],
)
def test_commit_dates_never_crash_history(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, raw: str, shown: str
) -> None:
    repo = make_repo()
    repo.stage({"a.properties": f"sonar.token={tokens.sqco()}\n"})
    _raw_commit(repo.path, raw)
    proc = run_cli("history", "--format", "json", str(repo.path))
    assert proc.returncode == 1, proc.stderr
    [finding] = _json(proc.stdout)["findings"]  # type: ignore[misc]
    assert finding["date"] == shown


def test_corrupt_loose_ref_is_an_error(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"readme.txt": "hi\n"})
    good = run_git(repo.path, "rev-parse", "HEAD")
    (repo.path / ".git" / "refs" / "heads" / "broken").write_text(good[:39] + "\n")
    proc = run_cli("history", "--format", "json", str(repo.path))
    assert proc.returncode == 2, proc.stderr
    report = _json(proc.stdout)
    stats = report["stats"]
    assert isinstance(stats, dict)
    [error] = stats["errors"]
    assert error["path"] == "refs/heads/broken"
    assert error["error"].startswith("broken ref")


def test_unparseable_commit_is_reported_as_such(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"readme.txt": "hi\n"})
    tree = run_git(repo.path, "write-tree")
    bad = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
            cwd=repo.path,
            input=f"tree {tree}\nauthor garbage\n\nm\n".encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    run_git(repo.path, "update-ref", "refs/heads/bad", bad)
    proc = run_cli("history", "--format", "json", str(repo.path))
    assert proc.returncode == 2
    stats = _json(proc.stdout)["stats"]
    assert isinstance(stats, dict)
    assert [e["error"] for e in stats["errors"]] == [f"object {bad} is there but cannot be parsed"]


# --------------------------------------------------------------------------- path arguments


def test_symlink_loop_as_first_path(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    proc = run_cli("scan", "--format", "json", str(tmp_path / "loop1"), str(tmp_path / "a.txt"))
    assert proc.returncode == 1, proc.stderr
    report = _json(proc.stdout)
    assert _paths(report) == [str(tmp_path / "a.txt")]
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert [e["path"] for e in stats["errors"]] == [str(tmp_path / "loop1")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_path_argument_is_a_per_input_error(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("x\n")
    locked.chmod(0)
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    proc = run_cli("scan", "--format", "json", str(locked), str(tmp_path / "a.txt"))
    assert proc.returncode == 1, proc.stderr
    report = _json(proc.stdout)
    assert _paths(report) == [str(tmp_path / "a.txt")]
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert [e["path"] for e in stats["errors"]] == [str(locked)]


def test_path_arguments_are_not_checked_for_readability_by_click() -> None:
    [scan] = [c for name, c in cli.commands.items() if name == "scan"]
    [paths] = [p for p in scan.params if p.name == "paths"]
    assert paths.type.readable is False  # type: ignore[attr-defined]


def test_duplicate_and_overlapping_paths_scanned_once(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(f"token={tokens.sqco()}\n")
    (tmp_path / "b.txt").write_text(f"token={tokens.sqco()}\n")
    args = [str(tmp_path), str(tmp_path / "sub"), str(tmp_path), str(tmp_path / "b.txt")]
    result = CliRunner().invoke(cli, ["scan", "--format", "json", *args])
    assert result.exit_code == 1, result.output
    report = _json(result.stdout)
    assert sorted(_paths(report)) == [str(tmp_path / "b.txt"), str(tmp_path / "sub" / "a.txt")]
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert stats["files_scanned"] == 2


def test_named_fifo_is_read_as_a_stream(tmp_path: Path, tokens: TokenGenerator) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    token = tokens.sqco()
    script = f"import sys; open(sys.argv[1], 'w').write('sonar.token={token}\\n')"
    writer = subprocess.Popen(["python3", "-c", script, str(fifo)])
    try:
        result = CliRunner().invoke(cli, ["scan", "--format", "json", str(fifo)])
    finally:
        writer.wait(timeout=30)
    assert result.exit_code == 1, result.output
    assert _paths(_json(result.stdout)) == [str(fifo)]


def test_dev_stdin_named_explicitly(tokens: TokenGenerator, run_cli: RunCli) -> None:
    proc = run_cli("scan", "--format", "json", "/dev/stdin", input=f"sonar.token={tokens.sqco()}\n")
    assert proc.returncode == 1, proc.stderr
    assert _paths(_json(proc.stdout)) == ["/dev/stdin"]


def test_max_file_size_bounds_stdin_and_devices(run_cli: RunCli, tokens: TokenGenerator) -> None:
    proc = run_cli("scan", "--format", "json", "--max-file-size", "1KiB", "-", input="x" * 5000)
    assert proc.returncode == 0, proc.stderr
    stats = _json(proc.stdout)["stats"]
    assert isinstance(stats, dict)
    assert stats["skipped"] == [{"path": "<stdin>", "reason": "too large (more than 1024 bytes)"}]
    proc = run_cli("scan", "--format", "json", "--max-file-size", "1MiB", "/dev/zero", timeout=60)
    stats = _json(proc.stdout)["stats"]
    assert isinstance(stats, dict)
    assert stats["skipped"] == [{"path": "/dev/zero", "reason": f"too large (more than {1 << 20} bytes)"}]


def test_file_grown_after_listing_is_read_at_most_to_the_limit(tmp_path: Path) -> None:
    from leakscan.sources.files import file_blob

    path = tmp_path / "grows.txt"
    path.write_bytes(b"x" * 10)
    ref = file_blob(str(path), "grows.txt", "grows.txt", 10)
    path.write_bytes(b"y" * 5000)  # grew after the walker's stat
    assert ref.load(1000) == Skipped("grows.txt", "too large (grew past 1000 bytes while being read)")
    path.write_bytes(b"z" * 900)
    blob = ref.load(1000)
    assert isinstance(blob, Blob) and blob.data == b"z" * 900


# --------------------------------------------------------------------------- baseline (D-14 c)


@pytest.mark.parametrize("kind", ["fifo", "device", "large"])
def test_baseline_must_be_a_bounded_regular_file(
    tmp_path: Path,
    run_cli: RunCli,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    if kind == "fifo":
        baseline = tmp_path / "b.json"
        os.mkfifo(baseline)
        expected = "baseline must be a regular file"
    elif kind == "device":
        baseline = Path("/dev/zero")
        expected = "baseline must be a regular file"
    else:
        import leakscan.baseline

        baseline = tmp_path / "big.json"
        baseline.write_bytes(b" " * 2000)
        monkeypatch.setattr(leakscan.baseline, "MAX_BASELINE_BYTES", 1000)
        assert main(["scan", "--baseline", str(baseline), str(tmp_path / "a.txt")]) == 2
        assert capsys.readouterr().err == f"Error: {baseline}: baseline larger than 1000 bytes\n"
        return
    proc = run_cli("scan", "--baseline", str(baseline), str(tmp_path / "a.txt"), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr == f"Error: {baseline}: {expected} (not a pipe or device)\n"


# --------------------------------------------------------------------------- CLI and output


def test_debug_keeps_the_exit_code(tmp_path: Path, run_cli: RunCli) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text('version = 1\n[[rules]]\nid="x"\n')
    proc = run_cli("--debug", "scan", "--rules", str(rules), str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert "Error: " in proc.stderr


def test_rules_list_into_a_closed_pipe_exits_0(tmp_path: Path) -> None:
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait(timeout=30)
    assert reader.stdin is not None
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan", "rules", "list"],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    reader.stdin.close()
    assert (proc.returncode, proc.stderr) == (0, "")


def test_empty_since_commit_is_a_usage_error(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "x\n"})
    proc = run_cli("history", "--since-commit", "", str(repo.path))
    assert proc.returncode == 2
    assert (
        proc.stderr.splitlines()[-1] == "Error: --since-commit: empty revision (give a branch, tag or commit)"
        " (see 'leakscan history --help')"
    )


def test_garbage_git_index_file_is_one_clean_line(
    make_repo: MakeRepo, tmp_path: Path, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "x\n"})
    garbage = tmp_path / "index"
    garbage.write_bytes(b"garbage\n")
    proc = run_cli("scan", "--staged", str(repo.path), env={"GIT_INDEX_FILE": str(garbage)})
    assert proc.returncode == 2
    assert proc.stderr == f"Error: GIT_INDEX_FILE={garbage}: not a git index file\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_disk_is_one_line(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "leakscan", "scan", "--format", "sarif", str(tmp_path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == "Error: stdout: cannot write report: No space left on device"
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr


def test_report_written_atomically(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leakscan.output

    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    out = tmp_path / "out" / "report.sarif"
    out.parent.mkdir()
    out.write_text("previous\n")
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(leakscan.output.os, "fsync", full_disk)
    assert main(["scan", "--format", "sarif", "--output", str(out), str(tmp_path / "a.txt")]) == 2
    assert out.read_text() == "previous\n"  # untouched, and no temporary file left beside it
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.sarif"]
    monkeypatch.setattr(leakscan.output.os, "fsync", real_fsync)
    assert main(["scan", "--format", "sarif", "--output", str(out), str(tmp_path / "a.txt")]) == 1
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.sarif"]


def test_text_report_and_error_lines_escape_invisible_characters(
    tmp_path: Path, tokens: TokenGenerator, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "a\u202etxt.exe\u200b"
    (tmp_path / name).write_text(f"token={tokens.sqco()}\n")
    result = CliRunner().invoke(cli, ["scan", str(tmp_path / name)])
    assert "\u202e" not in result.output and "\u200b" not in result.output
    assert "a\\u202etxt.exe\\u200b" in result.output
    rules = tmp_path / "r\x1b[2J\u202e.toml"
    assert main(["scan", "--rules", str(rules), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err
    assert "\\x1b[2J\\u202e" in err
    assert main(["scan", "--baseline", str(rules), str(tmp_path)]) == 2  # a click usage error
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\\x1b[2J\\u202e" in err


# --------------------------------------------------------------------------- trust boundary (D-14 a)


@pytest.mark.parametrize(
    ("hostile", "note_path"),
    [
        ({"pyproject.toml": '[project]\nname = "x"\n[tool.leakscan]\nexclude = ["*"]\n'}, "pyproject.toml"),
        ({".leakscan.toml": 'fail_on = "none"\nexclude = ["*.env"]\n'}, ".leakscan.toml"),
        ({".leakscanignore": "*\n"}, ".leakscanignore"),
    ],
    ids=["pyproject", "leakscan-toml", "leakscanignore"],
)
@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_since_commit_reads_configuration_at_the_base(
    make_repo: MakeRepo,
    tokens: TokenGenerator,
    run_cli: RunCli,
    hostile: dict[str, str],
    note_path: str,
    fmt: str,
) -> None:
    repo = make_repo()
    repo.commit({"pyproject.toml": '[project]\nname = "x"\n', "readme.txt": "hi\n"})
    repo.branch("base")
    repo.commit(hostile, message="configure the scan away")
    repo.commit({"leak.env": f"SONAR_TOKEN={tokens.sqco()}\n"}, message="the leak")
    proc = run_cli("history", "--since-commit", "base", "--format", fmt, str(repo.path))
    assert proc.returncode == 1, proc.stderr
    if fmt == "json":
        report = _json(proc.stdout)
        assert _paths(report) == ["leak.env"]
        stats = report["stats"]
        assert isinstance(stats, dict)
        [note] = stats["notes"]
        assert note.startswith(f"{note_path}")
        assert "changed since --since-commit base" in note
    elif fmt == "sarif":
        run = json.loads(proc.stdout)["runs"][0]
        assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]] == [
            "leak.env"
        ]
        texts = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
        assert any("changed since --since-commit base" in t for t in texts)
    else:
        assert "leak.env" in proc.stdout
        assert f"leakscan: {note_path}" in proc.stdout


def test_since_commit_uses_the_base_configuration_and_no_note_when_unchanged(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({".leakscan.toml": 'exclude = ["fixtures/"]\n'})
    repo.branch("base")
    repo.commit({"fixtures/t.env": f"T={tokens.sqco()}\n", "src/a.env": f"T={tokens.sqco()}\n"})
    proc = run_cli("history", "--since-commit", "base", "--format", "json", str(repo.path))
    assert proc.returncode == 1, proc.stderr
    report = _json(proc.stdout)
    assert _paths(report) == ["src/a.env"]
    stats = report["stats"]
    assert isinstance(stats, dict)
    # No "changed since" note; only the one naming the (base) configuration applied.
    (note,) = stats["notes"]
    assert note.startswith("configuration: ") and ".leakscan.toml (exclude: 1 pattern(s))" in note


def test_combined_matcher_agrees_with_pattern_by_pattern_matching() -> None:
    """The one-regex-plus-bisection matcher finds the same last pattern as trying each in turn."""
    import random
    import re

    from leakscan.sources.ignore import parse_line

    rng = random.Random(13)
    pieces = ["a", "b", "ab", "*", "?", "[ab]", "[!a]", "x/", "**/", "/y"]
    lines = []
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        lines.append(("!" if rng.random() < 0.3 else "") + text + ("/" if rng.random() < 0.2 else ""))
    matcher, _ = compile_lines(lines, "t")
    parsed = [p for p in (parse_line(line, i) for i, line in enumerate(lines)) if p is not None]
    names = ["a", "b", "ab", "ba", "x", "y", "aab", "x/y", "a/x/y", "ab/b", "b/a/b", "bb"]
    for name in names:
        for is_dir in (False, True):
            expected = None
            for pattern in parsed:
                subject = name if pattern.anchored else name.rsplit("/", 1)[-1]
                if pattern.dir_only and not is_dir:
                    continue
                if re.fullmatch(pattern.body, subject):
                    expected = not pattern.negate
            assert matcher.decide(name, is_dir) == expected, (name, is_dir)
