"""The file walker and readers: ignore files, .git, symlinks, special files, sizes, errors."""

from __future__ import annotations

import codecs
import io
import os
import random
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from leakscan.content import Kind
from leakscan.engine import prepare
from leakscan.models import Blob, Failed, Skipped, StdinOrigin
from leakscan.sources.files import FileWalker, TrackedPaths, file_blob, find_repo_root
from leakscan.sources.stdin import STDIN_PATH, StdinSource
from tests.globs import NAMES, random_glob

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": os.environ["PATH"],
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def prepare_blob(blob: Blob | Skipped | Failed) -> Blob | Skipped | Failed:
    """The engine's content policy on what a source yields: the scannable Blob, or a Skipped
    naming the kind (a Skipped or Failed passes through)."""
    if not isinstance(blob, Blob):
        return blob
    prepared = prepare(blob.data)
    if isinstance(prepared, Kind):
        return Skipped(blob.path, prepared.value)
    return blob if prepared is blob.data else Blob(blob.origin, prepared)


def walk(root: str | Path, **options: object) -> list[tuple[str, ...]]:
    """Everything the file source yields, as (kind, path[, reason or key path])."""
    out: list[tuple[str, ...]] = []
    for found in FileWalker([str(root)], **options):  # type: ignore[arg-type]
        item = prepare_blob(found.load(1 << 20)) if isinstance(found, Blob) else found
        if isinstance(item, Blob):
            out.append(("blob", item.path, item.stable_path))
        elif isinstance(item, Skipped):
            out.append(("skipped", item.path, item.reason))
        else:
            out.append(("failed", item.path, item.error))
    return out


def blob_paths(root: str | Path, **options: object) -> list[str]:
    return [item[1] for item in walk(root, **options) if item[0] == "blob"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with ignore files at several levels, negations and info/exclude."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(
        root,
        {
            ".gitignore": "*.log\n!keep.log\nbuild/\n/secret.env\n",
            "app.py": "x\n",
            "debug.log": "x\n",
            "keep.log": "x\n",
            "secret.env": "x\n",
            "build/out.txt": "x\n",
            "src/main.py": "x\n",
            "src/secret.env": "x\n",
            "src/.gitignore": "generated/\n!debug.log\n*.tmp\n",
            "src/debug.log": "x\n",
            "src/a.tmp": "x\n",
            "src/generated/g.py": "x\n",
            "src/deep/.gitignore": "!*.tmp\n",
            "src/deep/b.tmp": "x\n",
            "src/deep/local.cfg": "x\n",
            "docs/readme.md": "x\n",
            "docs/draft.md": "x\n",
            ".leakscanignore": "docs/draft.md\n",
        },
    )
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("local.cfg\n")
    (root / ".git" / "token-in-git-dir.txt").write_text("x\n")
    return root


def test_ignore_files_match_git(repo: Path) -> None:
    expected = sorted(git(repo, "ls-files", "--others", "--exclude-standard").split())
    expected.remove("docs/draft.md")  # listed in .leakscanignore, which git doesn't know
    found = sorted(Path(p).relative_to(repo).as_posix() for p in blob_paths(repo))
    assert found == expected
    assert found == [
        ".gitignore",
        ".leakscanignore",
        "app.py",
        "docs/readme.md",
        "keep.log",
        "src/.gitignore",
        "src/debug.log",
        "src/deep/.gitignore",
        "src/deep/b.tmp",
        "src/main.py",
        "src/secret.env",
    ]


def _untracked_as_git_lists_them(root: Path) -> list[str]:
    return sorted(git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0")[:-1])


def _walked(root: Path) -> list[str]:
    return sorted(Path(p).relative_to(root).as_posix() for p in blob_paths(root))


def test_anchored_globs_match_in_their_own_folder_only(tmp_path: Path) -> None:
    """`/*.env` ignores the root's .env files, not those of subfolders (as `*.env` would), and
    `/vendor/*` ignores what `vendor` holds, not `vendor` itself: `!/vendor/keep.txt` re-includes."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    ignore = "/*.env\nsub/*.tmp\n/vendor/*\n!/vendor/keep.txt\n"
    files = {".gitignore": ignore, "top.env": "x", "sub/app.env": "x", "sub/a.tmp": "x"}
    write(root, {**files, "sub/deeper/b.tmp": "x", "vendor/keep.txt": "x", "vendor/drop.txt": "x"})
    assert _walked(root) == _untracked_as_git_lists_them(root)
    assert _walked(root) == [".gitignore", "sub/app.env", "sub/deeper/b.tmp", "vendor/keep.txt"]


def test_ignore_files_are_read_as_git_reads_them(tmp_path: Path) -> None:
    """A UTF-8 byte order mark before the first pattern is skipped, and a pattern in bytes that
    are not UTF-8 matches the names spelt in those bytes, as in git."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / ".gitignore").write_bytes(b"\xef\xbb\xbf*.log\ncaf\xe9*\n")
    write(root, {"a.log": "x", "b.txt": "x", os.fsdecode(b"caf\xe9.txt"): "x", "cafe.txt": "x"})
    assert _walked(root) == _untracked_as_git_lists_them(root) == [".gitignore", "b.txt", "cafe.txt"]


@pytest.mark.parametrize("seed", range(30))
def test_random_ignore_files_decide_as_git_does(tmp_path: Path, seed: int) -> None:
    """Random globs (anchored or not, negated, folders only, `**`, classes, escapes, a trailing
    space) in the root's and a subfolder's .gitignore and in .git/info/exclude, over a random
    tree of which some files are tracked (odd seeds): the walker keeps exactly the files git
    lists as tracked or untracked and not ignored."""
    rng = random.Random(seed)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    tree = {"/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 3))) + ".txt": "x" for _ in range(30)}
    write(root, tree)
    if seed % 2:
        git(root, "add", *rng.sample(sorted(tree), 5))
    write(root, {".gitignore": "\n".join(random_glob(rng) for _ in range(5)) + "\n"})
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text(random_glob(rng) + "\n")
    folders = sorted({p.parent for p in root.rglob("*.txt") if p.parent != root})
    if folders:
        write(
            root, {f"{rng.choice(folders).relative_to(root).as_posix()}/.gitignore": random_glob(rng) + "\n"}
        )
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    assert _walked(root) == sorted(set(listed.split("\0")[:-1]))


def test_tracked_files_are_scanned_even_when_ignored(repo: Path) -> None:
    """git scans what it tracks whatever .gitignore says (e.g. a .env committed before it was
    ignored), and so does leakscan; untracked ignored files stay skipped."""
    (repo / "build" / "other.txt").write_text("x\n")
    git(repo, "add", "-f", "build/out.txt", "debug.log")
    expected = sorted(
        set(git(repo, "ls-files", "--cached", "--others", "--exclude-standard").split()) - {"docs/draft.md"}
    )
    found = sorted(Path(p).relative_to(repo).as_posix() for p in blob_paths(repo))
    assert found == expected
    assert "build/out.txt" in found and "debug.log" in found
    assert "build/other.txt" not in found and "src/a.tmp" not in found


def test_a_folder_is_tracked_when_a_tracked_path_lies_below_it(tmp_path: Path) -> None:
    """Folders whose names share a prefix ("a", "a-b", "ab", "a.b") are told apart; a file is
    not a folder; names that are not UTF-8 are looked up as the walk shows them."""
    repo = tmp_path / "r"
    for path in ("a/b.txt", "a-b/c.txt", "ab/x/y.txt", "a.b", "z\udce9/f.txt"):
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x\n")
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", "-A")
    tracked = TrackedPaths(repo, [])
    folders = {"a": True, "a-b": True, "ab": True, "ab/x": True, "a.b": False, "a/b": False}
    folders |= {"z\udce9": True, "b": False, "a/b.txt": False}
    assert {key: tracked.has(key, True) for key in folders} == folders
    assert tracked.has("a.b", False) and tracked.has("z\udce9/f.txt", False)
    assert not tracked.has("a", False) and not tracked.has("ab/x/y", False)


def test_a_damaged_index_is_named_with_what_git_said(tmp_path: Path) -> None:
    """git ls-files runs while the walk lists folders; when it fails, and libgit2 cannot read
    the index either, the note quotes git's own message and ignored files are scanned."""
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo))
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "debug.log").write_text("x\n")
    (repo / ".git" / "index").write_bytes(b"garbage")
    walker = FileWalker([str(repo)])
    found = sorted(Path(item.path).name for item in walker if isinstance(item, Blob))
    assert found == [".gitignore", "debug.log"]
    assert len(walker.notes) == 1
    assert "cannot read the git index" in walker.notes[0]
    assert "git ls-files: exit code 128: fatal:" in walker.notes[0]


def test_a_listing_nobody_needed_is_stopped(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo))
    tracked = TrackedPaths(repo, [])
    tracked.start()
    process = tracked._git
    assert process is not None
    tracked.close()
    assert process.returncode is not None and tracked._git is None


def test_no_ignore_scans_everything_but_dot_git(repo: Path) -> None:
    found = sorted(Path(p).relative_to(repo).as_posix() for p in blob_paths(repo, use_ignore_files=False))
    assert len(found) == 18
    assert "build/out.txt" in found and "src/deep/local.cfg" in found and "docs/draft.md" in found
    assert not [p for p in found if p.startswith(".git/")]


def test_subfolder_honours_parent_ignore_files(repo: Path) -> None:
    found = sorted(Path(p).relative_to(repo).as_posix() for p in blob_paths(repo / "src"))
    assert found == [
        "src/.gitignore",
        "src/debug.log",
        "src/deep/.gitignore",
        "src/deep/b.tmp",
        "src/main.py",
        "src/secret.env",
    ]
    deep = sorted(Path(p).name for p in blob_paths(repo / "src" / "deep"))
    assert deep == [".gitignore", "b.tmp"]


def test_relative_paths_shown_as_typed_and_keyed_to_the_repo(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "src")
    items = [item for item in walk("deep") if item[0] == "blob"]
    assert items == [
        ("blob", "deep/.gitignore", "src/deep/.gitignore"),
        ("blob", "deep/b.tmp", "src/deep/b.tmp"),
    ]
    monkeypatch.chdir(repo)
    assert ("blob", "./app.py", "app.py") in walk(".")


def test_named_file_is_scanned_even_if_ignored(repo: Path) -> None:
    assert walk(repo / "debug.log") == [("blob", str(repo / "debug.log"), "debug.log")]


def test_exclude_patterns(repo: Path) -> None:
    found = sorted(Path(p).relative_to(repo).as_posix() for p in blob_paths(repo, exclude=["src/", "*.md"]))
    assert found == [".gitignore", ".leakscanignore", "app.py", "keep.log"]


def test_leakscanignore_outside_a_repository(tmp_path: Path) -> None:
    write(tmp_path, {".leakscanignore": "fixtures/\n", "fixtures/t.txt": "x", "a.txt": "x"})
    assert find_repo_root(tmp_path) is None
    assert sorted(Path(p).name for p in blob_paths(tmp_path)) == [".leakscanignore", "a.txt"]


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"target.txt": "x"})
    tree = tmp_path / "tree"
    write(tree, {"real.txt": "x"})
    (tree / "link.txt").symlink_to(outside / "target.txt")
    (tree / "linkdir").symlink_to(outside, target_is_directory=True)
    (tree / "broken").symlink_to(tmp_path / "missing")
    (tree / "loop").symlink_to(tree / "loop")
    assert walk(tree) == [
        ("skipped", f"{tree}/broken", "symlink"),
        ("skipped", f"{tree}/link.txt", "symlink"),
        ("skipped", f"{tree}/linkdir", "symlink"),
        ("skipped", f"{tree}/loop", "symlink"),
        ("blob", f"{tree}/real.txt", "real.txt"),
    ]


def test_symlinks_named_on_the_command_line_are_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"target.txt": "x", "sub/inner.txt": "y"})
    (outside / "sub" / "inner-link").symlink_to(outside / "target.txt")
    (tmp_path / "linkdir").symlink_to(outside, target_is_directory=True)
    (tmp_path / "link.txt").symlink_to(outside / "target.txt")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    linkdir, link, loop = (str(tmp_path / name) for name in ("linkdir", "link.txt", "loop"))
    assert [item for root in (linkdir, link, loop) for item in walk(root)] == [
        ("skipped", f"{linkdir}/sub/inner-link", "symlink"),
        ("blob", f"{linkdir}/sub/inner.txt", "sub/inner.txt"),
        ("blob", f"{linkdir}/target.txt", "target.txt"),
        ("blob", link, "target.txt"),
        ("failed", loop, "cannot read: Too many levels of symbolic links"),
    ]


def test_binary_and_large_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "big.txt": "y" * 2001,
            "edge.txt": "z" * 2000,
            "empty.txt": "",
        },
    )
    assert walk(tmp_path, max_file_size=2000) == [
        ("skipped", f"{tmp_path}/big.txt", "too large (2001 bytes > 2000)"),
        ("blob", f"{tmp_path}/edge.txt", "edge.txt"),
        ("blob", f"{tmp_path}/empty.txt", "empty.txt"),
        ("skipped", f"{tmp_path}/image.png", "binary"),
    ]


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path, {"a.txt": "x"})
    assert walk(tmp_path) == [
        ("blob", f"{tmp_path}/a.txt", "a.txt"),
        ("skipped", f"{tmp_path}/pipe", "not a regular file"),
    ]


def test_fifo_swapped_in_after_the_walk_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    os.mkfifo(path)
    blob = file_blob(str(path), "f", "f", 0)
    assert blob.load(1 << 20) == Skipped("f", "not a regular file")


def test_file_vanishing_after_the_walk_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_text("x")
    [ref] = list(FileWalker([str(tmp_path)]))
    path.unlink()
    assert isinstance(ref, Blob)
    assert ref.load(1 << 20) == Failed(ref.path, "cannot open: No such file or directory")


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    assert walk(missing) == [("failed", missing, "cannot read: No such file or directory")]


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_file_that_cannot_be_read_even_by_root() -> None:
    """/proc/self/mem is a regular file whose read fails at offset 0, for every user."""
    assert walk("/proc/self/mem") == [("failed", "/proc/self/mem", "cannot read: Input/output error")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    write(tmp_path, {"locked.txt": "x", "closed/inner.txt": "x", "ok.txt": "x"})
    (tmp_path / "locked.txt").chmod(0)
    (tmp_path / "closed").chmod(0)
    try:
        assert walk(tmp_path) == [
            ("failed", f"{tmp_path}/closed", "cannot list folder: Permission denied"),
            ("failed", f"{tmp_path}/locked.txt", "cannot open: Permission denied"),
            ("blob", f"{tmp_path}/ok.txt", "ok.txt"),
        ]
    finally:
        (tmp_path / "closed").chmod(0o755)


def test_utf16_file_is_decoded(tmp_path: Path) -> None:
    text = "sonar.token = x\n"
    (tmp_path / "w.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    [ref] = list(FileWalker([str(tmp_path)]))
    assert isinstance(ref, Blob)
    blob = prepare_blob(ref.load(1 << 20))
    assert isinstance(blob, Blob) and blob.data == text.encode()


def test_stdin_source() -> None:
    def read(data: bytes) -> list[Blob | Skipped | Failed]:
        source = StdinSource(io.BytesIO(data), 1 << 20)
        return [prepare_blob(item) for item in source if isinstance(item, Blob)]

    assert read(b"hello") == [Blob(StdinOrigin(STDIN_PATH), b"hello")]
    assert read(b"\x00\x01\x02\x03bin") == [Skipped(STDIN_PATH, "binary")]
    utf16 = codecs.BOM_UTF16_BE + "héllo".encode("utf-16-be")
    assert read(utf16) == [Blob(StdinOrigin(STDIN_PATH), "héllo".encode())]
