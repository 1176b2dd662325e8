"""The pack-order history scan (workers reading blobs through git, raw tree walk) gives exactly what
the in-process scan gives: findings, first paths of skipped blobs, errors, notes, counts."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from leakscan.history import HistoryOptions, scan_history
from leakscan.models import Failed, ScanResult, Skipped
from leakscan.options import ScanOptions
from leakscan.sources import gitobjects
from leakscan.sources import history as history_module
from leakscan.sources.git import BlobRef, TreeEnumerator, default_tips, open_repo, walk_commits
from leakscan.sources.gitobjects import (
    BlobReader,
    ChangeStream,
    ChangesUnavailable,
    Listing,
    RawTreeEnumerator,
    TreeStream,
)
from leakscan.synthetic import TokenGenerator
from tests.gitrepo import GitRepo, MakeRepo

POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def _snapshot(result: ScanResult) -> tuple[object, ...]:
    findings = [
        (f.rule.id, f.secret.value, f.path, f.match.line, f.commit, f.commits_count, f.present_at_head)
        for f in result.findings
    ]
    stats = result.stats
    return (
        findings,
        result.skipped,
        result.errors,
        stats.notes,
        stats.files_scanned,
        stats.bytes_scanned,
        stats.extra,
    )


def _both(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, **options: object) -> tuple[ScanResult, ScanResult]:
    history = HistoryOptions(repo=str(repo.path), **options)  # type: ignore[arg-type]
    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 10**9)
    in_process = scan_history(ScanOptions(max_file_size=4000), history)
    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 0)
    pack_order = scan_history(ScanOptions(max_file_size=4000), history)
    return in_process, pack_order


def _busy_repo(make_repo: MakeRepo, tokens: TokenGenerator) -> GitRepo:
    repo = make_repo()
    same = "shared content\n"
    for number in range(12):
        files: dict[str, str | bytes | None] = {
            f"src/m{number % 3}/mod.py": f"VALUE = {number}\n" * (number + 1),
            f"copy/{number % 2}.txt": same,
            "big.txt": "x" * (3000 + 200 * number),
        }
        if number % 4 == 1:
            files[f"conf/{number}.env"] = f"SONAR_TOKEN={tokens.sqco()}\n"
        if number == 5:
            files["image.png"] = b"\x89PNG\r\n\x1a\n\0\0" + tokens.sqco().encode()
            files["model.bin"] = POINTER
            files["caf\xe9/na\u00efve.txt"] = "non-ascii path\n"
        if number == 8:
            files["conf/1.env"] = None
        repo.commit(files, f"commit {number}")
    repo.git(
        "update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,vendor/lib"
    )
    repo.commit(message="add submodule")
    repo.git("branch", "side", "HEAD~3")
    repo.git("tag", "-a", "v1", "-m", "release", "HEAD~6")
    return repo


def test_pack_order_scan_agrees_with_the_in_process_scan(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _busy_repo(make_repo, tokens)
    in_process, pack_order = _both(repo, monkeypatch)
    assert len(in_process.findings) == 4  # three .env files, and the PNG's printable strings
    assert {(s.path, s.reason) for s in in_process.skipped} >= {
        ("model.bin", "lfs-pointer"),
        ("vendor/lib", "submodule"),
    }
    assert any(s.reason.startswith("too large") for s in in_process.skipped)
    assert _snapshot(in_process) == _snapshot(pack_order)
    for workers in (1, 2):
        monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 0)
        again = scan_history(
            ScanOptions(max_file_size=4000), HistoryOptions(repo=str(repo.path), workers=workers)
        )
        assert _snapshot(again) == _snapshot(in_process)


def test_pack_order_scan_agrees_after_repack_and_with_missing_objects(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _busy_repo(make_repo, tokens)
    repo.git("repack", "-adq")
    assert _snapshot(_both(repo, monkeypatch)[0]) == _snapshot(_both(repo, monkeypatch)[1])
    lost = repo.commit({"lost.txt": "this blob will go missing\n", "lib/deep.txt": "deep\n"}, "loose")
    del lost
    for spec in ("HEAD:lost.txt", "HEAD:lib"):
        sha = repo.git("rev-parse", spec)
        loose = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
        loose.chmod(0o644)
        loose.unlink()
    in_process, pack_order = _both(repo, monkeypatch)
    errors = sorted(e.error.split(" ", 1)[0] + " " + e.path for e in in_process.errors)
    assert errors == ["missing lib", "missing lost.txt"]
    assert _snapshot(in_process) == _snapshot(pack_order)


def test_max_commits_and_branch_agree(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _busy_repo(make_repo, tokens)
    for options in ({"max_commits": 4}, {"branches": ("side",)}):
        in_process, pack_order = _both(repo, monkeypatch, **options)
        assert _snapshot(in_process) == _snapshot(pack_order)


def test_raw_tree_walk_yields_what_the_tree_enumerator_yields(
    make_repo: MakeRepo, tokens: TokenGenerator
) -> None:
    repo = _busy_repo(make_repo, tokens)
    opened = open_repo(repo.path)
    roots = [opened.revparse_single(f"HEAD~{n}").tree_id for n in range(12, -1, -1)]
    stream = TreeStream(opened.path, Listing(opened.path, trees=True).iter_trees())
    walks = []
    for enumerator in (TreeEnumerator(opened), RawTreeEnumerator(opened), RawTreeEnumerator(opened, stream)):
        walks.append([item for root in roots for item in enumerator.iter_new(root)])
    stream.close()
    assert walks[0] == walks[1] == walks[2]
    assert len(walks[0]) > 10


GITLINK = "160000,0123456789abcdef0123456789abcdef01234567,{}"


def _tricky_repo(make_repo: MakeRepo) -> GitRepo:
    """Histories where what a commit changed is not the whole story: a submodule in a folder copied
    whole (its tree already seen) and changed later, merges (one that changes files itself, an
    octopus merge bringing a submodule), two root commits, a file that becomes a folder, folders
    and files with the same content twice, names git would quote."""
    repo = make_repo()
    repo.commit({"a/x.txt": "x\n", "a/y.txt": "y\n", "t": "a file\n"}, "one")
    repo.git("update-index", "--add", "--cacheinfo", GITLINK.format("a/sub"))
    repo.commit(message="submodule in a")
    repo.git("update-index", "--add", "--cacheinfo", GITLINK.format("b/sub"))
    repo.commit({"b/x.txt": "x\n", "b/y.txt": "y\n"}, "b: a copy of a, tree and all")
    repo.commit({"b/x.txt": "x changed\n"}, "b changes; its submodule does not")
    repo.checkout("side", create=True)
    repo.commit({"t": None, "t/inner.txt": "now a folder\n", "d1/f": "same\n", "d2/f": "same\n"}, "side")
    repo.checkout("main")
    repo.commit({"a/x.txt": "main's x\n", "dup/1": "twin\n", "dup/2": "twin\n"}, "main")
    repo.merge("side")
    repo.commit({"new\nline.txt": "newline name\n", "caf\udce9.txt": "latin-1 name\n"}, "odd names")
    repo.checkout("evil", create=True)
    repo.commit({"e/x.txt": "evil side\n"}, "evil side")
    repo.checkout("main")
    repo.merge("evil", commit=False)
    repo.commit({"e/y.txt": "only in the merge\n", "e/x.txt": "changed in the merge\n"}, "evil merge")
    for side in ("left", "right"):
        repo.checkout(side, create=True)
        repo.commit({f"m/{side}.txt": f"{side}\n", f"{side}.txt": "a side\n"}, side)
        repo.checkout("main")
    repo.checkout("right")
    repo.git("update-index", "--add", "--cacheinfo", GITLINK.format("m/sub"))
    repo.commit(message="submodule on the right")
    repo.checkout("main")
    repo.commit({"m/main.txt": "main\n"}, "main again")
    repo.git("merge", "-q", "--no-ff", "-m", "octopus", "left", "right")
    repo.git("checkout", "-q", "--orphan", "other")
    repo.git("rm", "-rqf", ".")
    repo.commit({"a/x.txt": "x\n", "other.txt": "a second root\n"}, "another root")
    repo.checkout("main")
    return repo


def _walks(repo: GitRepo) -> tuple[list[object], list[object] | None, RawTreeEnumerator]:
    """The commits' trees walked whole, and from what each commit changed (None: not possible)."""
    opened = open_repo(repo.path)
    tips = default_tips(opened)
    walk = walk_commits(opened, tips.commits, (), None)
    walked = history_module.Walked(history_module.MessageFindings(None, frozenset()), tips, walk)  # type: ignore[arg-type]
    for oid in walk.commits:
        walked.trees[oid] = opened[oid].tree_id
    whole = RawTreeEnumerator(opened)
    expected = list(history_module._from_commits(whole, walk.commits, walked.trees))
    by_changes = RawTreeEnumerator(opened)
    changes = history_module._change_stream(opened.path, walk)
    assert changes is not None
    got = history_module._walk_changes(by_changes, changes, walked)
    if got is not None:
        assert by_changes.submodules == whole.submodules
        assert by_changes.seen_blobs == whole.seen_blobs
    return expected, got, by_changes


def _gives_way(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> tuple[list[object], RawTreeEnumerator]:
    """Asserts that the walk by changes gave way, keeping nothing, and that the scan that then
    walks whole trees gives what the in-process scan gives; the whole walk and the enumerator."""
    whole, by_changes, enumerator = _walks(repo)
    assert by_changes is None and not enumerator.seen_blobs
    in_process, pack_order = _both(repo, monkeypatch)
    assert _snapshot(in_process) == _snapshot(pack_order)
    return whole, enumerator


def test_the_walk_by_changes_meets_what_the_whole_walk_meets(make_repo: MakeRepo) -> None:
    repo = _tricky_repo(make_repo)
    whole, by_changes, _ = _walks(repo)
    assert by_changes == whole
    skipped = {item.path for item in whole if isinstance(item, Skipped)}
    assert skipped == {"a/sub", "b/sub", "m/sub"}  # b/sub only once b's tree is new
    paths = [item.path for item in whole if isinstance(item, BlobRef)]
    assert {"t/inner.txt", "new\nline.txt", "caf\udce9.txt", "d1/f", "dup/1", "e/y.txt"} <= set(paths)
    assert paths.count("e/x.txt") == 2  # the side's, then the merge's own
    assert not {"d2/f", "dup/2"} & set(paths)  # the same blob, met first at the other name


def test_the_walk_by_changes_gives_way_to_the_whole_walk_when_git_cannot_say(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _tricky_repo(make_repo)
    repo.commit({"lib/deep.txt": "deep\n"}, "a tree that goes missing")
    sha = repo.git("rev-parse", "HEAD:lib")
    loose = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
    loose.chmod(0o644)
    loose.unlink()
    whole, enumerator = _gives_way(repo, monkeypatch)
    assert not enumerator.submodules
    assert any(isinstance(item, Failed) and item.path == "lib" for item in whole)


def test_the_walk_by_changes_gives_way_when_git_does_not_list_changed_trees(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _tricky_repo(make_repo)
    monkeypatch.setattr(gitobjects, "DIFF_TREE", tuple(arg for arg in gitobjects.DIFF_TREE if arg != "-t"))
    _gives_way(repo, monkeypatch)  # folders never entered: not trusted


def test_the_walk_by_changes_gives_way_when_git_sees_a_parent_libgit2_does_not(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo()
    root = repo.commit({"a.txt": "a\n", "d/b.txt": "b\n"}, "one")
    repo.commit({"a.txt": "changed\n"}, "two")
    back = repo.commit({"a.txt": "a\n"}, "back to the first tree")
    real = gitobjects._stdin_line

    def grafted(commit: pygit2.Oid, parents: bytes) -> str:  # git told of a parent with the same tree
        return f"{commit} {back}" if str(commit) == root else real(commit, parents)

    monkeypatch.setattr(gitobjects, "_stdin_line", grafted)
    whole, _ = _gives_way(repo, monkeypatch)
    assert {item.path for item in whole if isinstance(item, BlobRef)} == {"a.txt", "d/b.txt"}


def test_a_stopped_scan_does_not_start_the_whole_tree_walk(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _tricky_repo(make_repo)
    started: list[object] = []

    def stopped(enumerator: RawTreeEnumerator, changes: ChangeStream, walked: object) -> None:
        changes.close()  # as when Ctrl-C reaches git too: git could not say, and the scan is stopping
        assert enumerator.cancel is not None
        enumerator.cancel.set()

    monkeypatch.setattr(history_module, "_walk_changes", stopped)
    monkeypatch.setattr(history_module, "TreeStream", lambda *args: started.append(args))
    _both(repo, monkeypatch)
    assert started == []


def _changes(git_dir: str, asked: list[tuple[str, list[str]]]) -> ChangeStream:
    """A change stream for (commit, parents) in hex, given as ``CommitWalk`` holds them."""
    commits = [pygit2.Oid(hex=commit) for commit, _ in asked]
    joined = [b"".join(pygit2.Oid(hex=parent).raw for parent in parents) for _, parents in asked]
    return ChangeStream(git_dir, commits, joined)


def test_change_stream_says_when_git_cannot_describe_a_commit(make_repo: MakeRepo) -> None:
    repo = make_repo()
    first = repo.commit({"a.txt": "a\n"}, "one")
    second = repo.commit({"a.txt": "b\n", "b/c.txt": "c\n"}, "two")
    git_dir = open_repo(repo.path).path
    stream = _changes(git_dir, [(first, []), (second, [first])])
    changes = list(stream)
    stream.close()
    assert [sorted(folders) for folders, _ in changes] == [[""], ["", "b/"]]
    assert [entry[:2] for entry in changes[1][0][""]] == [(b"100644", b"a.txt"), (b"40000", b"b")]
    for asked in ([(first, []), ("0" * 40, [first])], [(second, [])]):  # unknown; not a root for git
        stream = _changes(git_dir, asked)
        with pytest.raises(ChangesUnavailable):
            list(stream)
        stream.close()


@pytest.mark.parametrize("width", [40, 64])  # SHA-1 ids (the usual line), SHA-256 ids
def test_a_diff_tree_line_is_read_whole_or_refused(width: int) -> None:
    stream = ChangeStream.__new__(ChangeStream)  # only its line parser: no git run
    stream._folders = {}
    old, new = "a" * width, "b" * width
    changes: gitobjects.Changes = ({}, [])
    for meta, path in [
        (f":100644 100755 {old} {new} M", b"src/run.sh"),
        (f":000000 160000 {'0' * width} {new} A", b"src/lib"),
        (f":100644 000000 {old} {'0' * width} D", b"gone.txt"),  # deleted: left out
    ]:
        stream._add(changes, meta.encode(), path, 1)
    entry_id = bytes.fromhex(new)
    assert changes == (
        {"src/": [(b"100755", b"run.sh", entry_id, b""), (b"160000", b"lib", entry_id, b"")]},
        [("src/", b"lib")],
    )
    line = f":100644 100644 {old} {new} M".encode()
    for bad in (line[:-3] + b"M", b"::" + line[2:], line.replace(b" M", b"xM"), line + b" "):
        with pytest.raises(ChangesUnavailable):
            stream._add(changes, bad, b"x.txt", 1)
    with pytest.raises(ChangesUnavailable, match="a root commit has a parent"):
        stream._add(changes, line, b"x.txt", 0)


def test_change_stream_shows_of_a_merge_only_what_differs_from_every_parent(make_repo: MakeRepo) -> None:
    repo = make_repo()
    base = repo.commit({"a.txt": "a\n"}, "base")
    repo.checkout("side", create=True)
    side = repo.commit({"s/s.txt": "side\n"}, "side")
    repo.checkout("main")
    main = repo.commit({"m.txt": "main\n"}, "main")
    repo.merge("side", commit=False)
    merge = repo.commit({"own.txt": "the merge's own\n"}, "merge")
    git_dir = open_repo(repo.path).path
    asked = [(base, []), (side, [base]), (main, [base]), (merge, [main, side])]
    stream = _changes(git_dir, asked)
    changes = list(stream)
    stream.close()
    assert [[entry[1] for entry in entries] for entries in changes[3][0].values()] == [[b"own.txt"]]
    stream = _changes(git_dir, [*asked[:3], (merge, [main])])  # against the first parent only
    against_first = list(stream)[3][0]
    stream.close()
    assert sorted(entry[1] for entries in against_first.values() for entry in entries) == [
        b"own.txt",
        b"s",
        b"s.txt",
    ]


def test_listing_streams_what_it_lists_and_says_when_it_could_not_list(
    make_repo: MakeRepo, tokens: TokenGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitobjects, "_READ_SIZE", 50)  # lines cut across reads
    repo = _busy_repo(make_repo, tokens)
    streamed = Listing(str(repo.path / ".git"), trees=True)
    blobs, trees = list(streamed.iter_blobs()), list(streamed.iter_trees())
    only_blobs, only_trees = (
        Listing(str(repo.path / ".git")),
        Listing(str(repo.path / ".git"), blobs=False, trees=True),
    )
    assert list(only_blobs.iter_blobs()) == blobs and list(only_blobs.iter_trees()) == []  # trees not kept
    assert list(only_trees.iter_trees()) == trees and list(only_trees.iter_blobs()) == []
    check = "--batch-check=%(objectname) %(objecttype) %(objectsize)"
    listed = repo.git("cat-file", "--batch-all-objects", "--unordered", check).split()
    rows = list(zip(listed[0::3], listed[1::3], listed[2::3], strict=True))
    assert streamed.complete and len(blobs) > 10
    assert blobs == [(oid, int(size)) for oid, kind, size in rows if kind == "blob"]
    assert trees == [oid for oid, kind, _ in rows if kind == "tree"]
    assert streamed.has(len(blobs)) and not streamed.has(len(blobs) + 1)
    broken = Listing(str(tmp_path / "not-a-repository"))
    assert not broken.has(1) and list(broken.iter_blobs()) == [] and broken.complete


def test_tree_stream_hands_out_trees_in_any_order_and_none_for_what_git_lacks(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitobjects, "_READ_SIZE", 7)  # records cut across reads everywhere
    repo = make_repo()
    repo.commit({f"wide/{n:04}-{'x' * 60}.txt": f"{n}\n" for n in range(300)}, "a tree wider than a read")
    repo.commit({"small/a.txt": "a\n"}, "another tree")
    opened = open_repo(repo.path)
    head = opened.revparse_single("HEAD")
    trees = [opened.revparse_single(f"HEAD~{n}^{{tree}}").id for n in (0, 1)]
    trees += [opened.revparse_single(f"HEAD:{name}").id for name in ("wide", "small")]
    missing = "0123456789abcdef0123456789abcdef01234567"
    listed = [str(trees[0]), missing, str(head.id), *(str(t) for t in trees[1:])]  # a commit too
    stream = TreeStream(opened.path, listed)
    for tree in reversed(trees):  # the last first: the others are held until asked for
        assert stream.take(tree.raw) == opened.odb.read(tree)[1]
    assert stream.take(bytes.fromhex(missing)) is None
    assert stream.take(head.id.raw) is None
    stream.close()
    assert len(opened.odb.read(trees[2])[1]) > 300 * 60


def test_blob_reader_reads_by_id_and_reports_what_git_does_not_deliver(
    tmp_path: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "alpha\n", "b.txt": "beta\n"})
    ids = [
        repo.git("rev-parse", "HEAD:a.txt"),
        "0" * 40,
        repo.git("rev-parse", "HEAD:b.txt"),
        repo.git("rev-parse", "HEAD"),
    ]
    reader = BlobReader(str(repo.path / ".git"))
    try:
        assert list(reader.read(ids)) == [
            (ids[0], b"alpha\n"),
            (ids[1], None),
            (ids[2], b"beta\n"),
            (ids[3], None),
        ]
        assert list(reader.read(ids[:1])) == [(ids[0], b"alpha\n")]  # restarted after the commit
    finally:
        reader.close()


class _Listed:
    """What ``_PackLanes`` reads of a ``Listing``: the blobs so far and whether git has ended."""

    def __init__(self, blobs: list[tuple[str, int]]) -> None:
        self.blobs = blobs
        self.complete = False

    def iter_blobs(self) -> Iterator[tuple[str, int]]:
        at = 0
        while at < len(self.blobs):
            at += 1
            yield self.blobs[at - 1]


def test_lane_one_takes_chunks_from_the_end_once_the_listing_is_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gitobjects, "CHUNK_BLOBS", 3)
    monkeypatch.setattr(gitobjects, "CHUNK_BYTES", 100)
    blobs = [(f"b{n:02}", 10) for n in range(8)]
    listing = _Listed(blobs)
    started: list[bool] = []
    lanes = gitobjects._PackLanes(listing, 50, lambda: started.append(True))  # type: ignore[arg-type]
    assert lanes.take(1) == ["b00", "b01", "b02"] and started == [True]  # still listing: the front
    blobs += [("big", 60), *((f"b{n:02}", 40) for n in range(8, 12))]
    listing.complete = True
    assert lanes.take(1) == ["b11", "b10", "b09"]  # from the end, backwards; 120 bytes
    assert lanes.take(0) == ["b03", "b04", "b05"]
    assert lanes.take(1) == ["b08", "b07", "b06"]  # "big" (over 50 bytes) is never read
    assert lanes.take(0) is None and lanes.take(1) is None  # the ends met
    assert list(lanes.sizes) == [30, 120, 30, 60] and started == [True]


def test_a_killed_worker_ends_the_pack_order_scan_with_its_blobs_failed(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    from leakscan.sources import gitobjects

    token = tokens.server("u")
    repo = make_repo()
    files = {f"f{n}.txt": f"file {n}\n" for n in range(6)}
    repo.commit({**files, "boom.txt": "kill the worker\n"}, f"add files with {token}")
    boom = repo.git("rev-parse", "HEAD:boom.txt")
    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 0)
    monkeypatch.setattr(gitobjects, "CHUNK_BLOBS", 1)
    real = gitobjects._scan_chunk

    def dying(state: object, chunk: list[str]) -> object:
        if boom in chunk:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(state, chunk)  # type: ignore[arg-type]

    monkeypatch.setattr(gitobjects, "_scan_chunk", dying)
    result = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path), workers=2))
    errors = {e.path: e.error for e in result.errors}
    assert errors["boom.txt"] == f"blob {boom}: worker process died (killed by signal 9)"
    assert errors["<worker>"].startswith("worker process died: blob scan stopped")
    assert [(f.path, f.secret.value) for f in result.findings] == [("<commit message>", token)]
    assert not result.complete and not result.interrupted


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are a Linux setting")
@pytest.mark.parametrize("refused", [False, True])
def test_blob_reader_widens_its_pipe_where_allowed_and_reads_the_same_either_way(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    big = bytes(range(256)) * (3 * 4096 + 7)  # three times the wide pipe, and some
    repo = make_repo()
    repo.commit({"big.bin": big, "small.txt": "s\n"})
    ids = [repo.git("rev-parse", "HEAD:big.bin"), repo.git("rev-parse", "HEAD:small.txt")]
    if refused:  # over the user's pipe quota, say: the pipe keeps its size
        real = fcntl.fcntl

        def refuse(fd: int, op: int, arg: int = 0) -> object:
            if op == fcntl.F_SETPIPE_SZ:
                raise PermissionError("pipe quota")
            return real(fd, op, arg)

        monkeypatch.setattr(fcntl, "fcntl", refuse)
    reader = BlobReader(str(repo.path / ".git"))
    try:
        assert list(reader.read(ids)) == [(ids[0], big), (ids[1], b"s\n")]
        proc = reader._proc
        assert proc is not None and proc.stdout is not None
        size = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        assert (size < gitobjects.PIPE_BYTES) if refused else (size == gitobjects.PIPE_BYTES)
    finally:
        reader.close()
