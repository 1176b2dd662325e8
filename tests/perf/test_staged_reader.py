"""The git-CLI staged reader (no libgit2 import) gives what the libgit2 one gives: the same files,
skips and errors, and the same added byte ranges."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from leakscan.models import Blob
from leakscan.sources import staged as staged_source
from leakscan.sources.git import added_ranges, open_repo
from leakscan.synthetic import TokenGenerator
from tests import libgit2_staged
from tests.gitrepo import GitRepo, MakeRepo


def _normal(item: object) -> object:
    """Files as (path, data, old), large files as (path, hex id, size); skips and errors as they are."""
    if isinstance(item, libgit2_staged.StagedFile):
        return ("file", item.path, item.data, item.old)
    if isinstance(item, libgit2_staged.LargeStagedFile):
        return ("large", item.path, str(item.oid), item.size)
    return item


def _new_normal(source: staged_source.StagedSource, item: object) -> object:
    """The git-CLI source's blobs in the same form."""
    if isinstance(item, Blob) and isinstance(item.reader, staged_source.GitBlobReader):
        return ("large", item.path, item.reader.oid, item.reader.size)
    if isinstance(item, Blob):
        previous = source.previous.get(item.path)
        return ("file", item.path, item.data, previous.data if previous is not None else None)
    return item


def _both(repo: GitRepo, max_size: int = 10_000) -> tuple[list[object], list[object]]:
    opened = open_repo(repo.path)
    index = libgit2_staged.staged_index(opened)
    old = [_normal(i) for i in libgit2_staged.iter_staged(opened, index, max_size)]
    source = staged_source.StagedSource(staged_source.open_staged(str(repo.path)), max_size)
    new = [_new_normal(source, i) for i in source]
    return sorted(old, key=repr), sorted(new, key=repr)


def test_same_staged_files_skips_and_errors(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    body = "".join(f"line {n}\n" for n in range(200))
    repo.commit(
        {"keep.txt": body, "gone.txt": "bye\n", "move/me.txt": body + "moved\n", "edit.py": "x = 1\n"}
    )
    repo.git("rm", "-q", "gone.txt")
    (repo.path / "moved").mkdir()
    repo.git("mv", "move/me.txt", "moved/me.txt")
    repo.stage(
        {
            "edit.py": f"x = 1\nTOKEN = '{tokens.sqco()}'\n",
            "new.bin": b"\0\1\2binary",
            "big.txt": "y" * 20_000,
            "caf\xe9.txt": "non-ascii name\n",
        }
    )
    repo.git(
        "update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,vendor/lib"
    )
    old, new = _both(repo)
    assert old == new
    assert len(old) == 6


def test_unborn_branch_and_missing_blob(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.stage({"a.txt": "alpha\n", "b/c.txt": "gamma\n"})
    old, new = _both(repo)
    assert old == new and len(old) == 2
    sha = repo.git("rev-parse", ":a.txt")
    loose = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
    loose.chmod(0o644)
    loose.unlink()
    old, new = _both(repo)
    assert old == new
    assert any(getattr(item, "error", "") == f"missing blob object {sha}" for item in new)


def test_added_lines_match_libgit2(make_repo: MakeRepo) -> None:
    rng = random.Random(3)
    repo = make_repo()
    lines = [f"value_{n} = {rng.randint(0, 9)}\n" for n in range(120)]
    repo.commit({"f.txt": "".join(lines)})
    for _ in range(6):
        changed = list(lines)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(changed))
            choice = rng.random()
            if choice < 0.4:
                changed[at] = f"edited {rng.random()}\n"
            elif choice < 0.7:
                changed.insert(at, f"inserted {rng.random()}\n")
            else:
                del changed[at]
        text = "".join(changed).rstrip("\n") if rng.random() < 0.3 else "".join(changed)
        repo.stage({"f.txt": text})
        staged = staged_source.open_staged(str(repo.path))
        source = staged_source.StagedSource(staged, 10**6)
        [item] = [i for i in source if isinstance(i, Blob)]
        previous = source.previous[item.path]
        assert staged_source.added_lines(staged, previous.old_id, previous.new_id, item.data) == added_ranges(
            previous.data, item.data
        )


def test_scan_staged_does_not_import_libgit2(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    repo.commit({"a.py": "x = 1\n"})
    repo.stage({"a.py": f"x = 1\nTOKEN = '{tokens.sqco()}'\n"})
    code = (
        "import sys\nfrom leakscan.entry import main\nsys.argv = ['leakscan', 'scan', '--staged']\n"
        "status = main()\nassert 'pygit2' not in sys.modules, 'pygit2 imported'\nraise SystemExit(status)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert "a.py:2" in proc.stdout


@pytest.mark.parametrize("relative", [False, True])
def test_git_index_file_honoured(make_repo: MakeRepo, tokens: TokenGenerator, relative: bool) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "alpha\n"})
    other = repo.path / ".git" / "other-index"
    env = {"GIT_INDEX_FILE": str(other)}
    repo.git("read-tree", "HEAD", env=env)
    (repo.path / "b.txt").write_text("beta\n")
    repo.git("update-index", "--add", "b.txt", env=env)
    monkey = pytest.MonkeyPatch()
    try:
        monkey.chdir(repo.path)
        monkey.setenv("GIT_INDEX_FILE", ".git/other-index" if relative else str(other))
        staged = staged_source.open_staged(".")
        assert [i.path for i in staged_source.StagedSource(staged, 10**6)] == ["b.txt"]
    finally:
        monkey.undo()


@pytest.mark.parametrize(
    ("staged", "runs"),
    [
        ("x = 2\n", [[False, False], [False, False]]),
        # The first run compiles with regex; the next builds from the cached program, engine only.
        ("SONAR_TOKEN = '{token}'\n", [[True, True], [False, True]]),
    ],
)
def test_regex_is_imported_only_once_a_keyword_hits_and_its_program_is_not_cached(
    make_repo: MakeRepo, tokens: TokenGenerator, tmp_path: Path, staged: str, runs: list[list[bool]]
) -> None:
    repo = make_repo()
    repo.commit({"a.py": "x = 1\n"})
    repo.stage({"a.py": staged.format(token=tokens.sqco())})
    code = (
        "import sys\nfrom leakscan.entry import main\nsys.argv = ['leakscan', 'scan', '--staged']\n"
        "status = main()\nprint(['regex' in sys.modules, 'regex._regex' in sys.modules])\n"
        "raise SystemExit(status)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for expected in runs:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=repo.path, env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == (1 if expected[1] else 0), proc.stderr
        assert proc.stdout.splitlines()[-1] == str(expected)
