"""The engine reads every blob the same way, whatever its source: held bytes, or a Reader that
reads where the blob is scanned (streamed over --max-file-size), and what a reader cannot give
becomes a Skipped or a Failed naming the blob."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from leakscan.engine import GROUPED_MAX_BYTES, STREAM_CHUNK, Engine
from leakscan.models import Blob, Failed, FileOrigin, ScanResult, Skipped, StdinOrigin, Unreadable
from leakscan.options import ScanOptions
from leakscan.synthetic import TokenGenerator
from tests.gitrepo import MakeRepo


@dataclass(frozen=True)
class MemoryReader:
    """A reader over bytes in memory that counts how it was read (a stand-in for a new source)."""

    content: bytes
    problem: Unreadable | None = None
    reads: list[str] | None = None

    @property
    def size(self) -> int:
        return len(self.content)

    def read(self, limit: int) -> bytes:
        if self.reads is not None:
            self.reads.append("whole")
        if self.problem is not None:
            raise self.problem
        return self.content

    @contextmanager
    def stream(self) -> Iterator[Callable[[int], bytes]]:
        if self.reads is not None:
            self.reads.append("stream")
        if self.problem is not None:
            raise self.problem
        at = 0

        def read(size: int) -> bytes:
            nonlocal at
            piece = self.content[at : at + size]
            at += len(piece)
            return piece

        yield read


@dataclass(frozen=True)
class GrownReader(MemoryReader):
    """A file that grew after it was listed: its listed size is smaller than what is read."""

    listed: int = 0

    @property
    def size(self) -> int:
        return self.listed


def _scan(engine: Engine, *blobs: Blob) -> ScanResult:
    result = ScanResult()
    engine.consume(iter(blobs), result)
    return result


def test_a_new_source_needs_only_blobs_with_a_reader(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    reads: list[str] = []
    reader = MemoryReader(f"x\nsonar.token={token}\n".encode(), reads=reads)
    result = _scan(Engine(ScanOptions()), Blob(StdinOrigin("<memory>"), reader=reader))
    assert reads == ["whole"]
    assert [(f.path, f.secret.value, f.match.line) for f in result.findings] == [("<memory>", token, 2)]
    assert (result.stats.files_scanned, result.stats.bytes_scanned) == (1, reader.size)


def test_a_blob_over_the_size_limit_is_streamed_with_the_same_positions(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    # The token sits across the first chunk boundary of the stream.
    body = b"a" * (STREAM_CHUNK - 20) + b"\nsonar.token=" + token.encode() + b"\n"
    reads: list[str] = []
    engine = Engine(ScanOptions(max_file_size=1000))
    result = _scan(engine, Blob(FileOrigin("big.txt"), reader=MemoryReader(body, reads=reads)))
    assert reads == ["stream"]
    assert [(f.secret.value, f.match.line, f.match.column) for f in result.findings] == [(token, 2, 13)]
    assert result.stats.bytes_scanned == len(body)
    held = _scan(Engine(ScanOptions()), Blob(FileOrigin("big.txt"), body))
    assert [f.match for f in held.findings] == [f.match for f in result.findings]


def test_a_streamed_binary_blob_is_skipped_by_the_content_policy() -> None:
    body = b"\x00\x01\x02" * 5000
    result = _scan(
        Engine(ScanOptions(max_file_size=1000)), Blob(FileOrigin("b.bin"), reader=MemoryReader(body))
    )
    assert result.skipped == [Skipped("b.bin", "binary")]
    assert result.stats.files_scanned == 0


@pytest.mark.parametrize("size_limit", [1 << 20, 10], ids=["whole", "streamed"])
def test_what_a_reader_cannot_give_is_named(size_limit: int) -> None:
    engine = Engine(ScanOptions(max_file_size=size_limit))
    failed = MemoryReader(b"some bytes here", Unreadable("cannot open: Permission denied"))
    skipped = MemoryReader(b"some bytes here", Unreadable("not a regular file", skip=True))
    result = _scan(
        engine, Blob(FileOrigin("a.txt"), reader=failed), Blob(FileOrigin("b.txt"), reader=skipped)
    )
    assert result.errors == [Failed("a.txt", "cannot open: Permission denied")]
    assert result.skipped == [Skipped("b.txt", "not a regular file")]
    assert not result.complete


def test_history_streams_blobs_over_the_limit_with_large_files_scan(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through libgit2 (in-process walk) and through the pack-order scan alike."""
    from leakscan.history import HistoryOptions, scan_history
    from leakscan.sources import history as history_module

    token = tokens.sqco()
    repo = make_repo()
    big = "".join(f"line {n}\n" for n in range(400)) + f"sonar.token={token}\n"
    repo.commit({"big.txt": big, "small.txt": "hello\n"})
    history = HistoryOptions(repo=str(repo.path))
    for minimum in (10**9, 0):
        monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", minimum)
        skipped = scan_history(ScanOptions(max_file_size=1000), history)
        assert skipped.findings == []
        assert skipped.skipped == [Skipped("big.txt", f"too large ({len(big)} bytes > 1000)")]
        streamed = scan_history(ScanOptions(max_file_size=1000, scan_large_files=True), history)
        assert [(f.path, f.secret.value, f.match.line) for f in streamed.findings] == [
            ("big.txt", token, 401)
        ]
        assert streamed.skipped == []
        assert streamed.stats.bytes_scanned == len(big) + len("hello\n")


def test_history_large_files_flag_end_to_end(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    import json
    import subprocess
    import sys

    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"big.txt": "x" * 5000 + f"\nsonar.token={token}\n"})
    args = [sys.executable, "-m", "leakscan", "history", "--format", "json", "--max-file-size", "1000"]
    skipped = subprocess.run([*args, str(repo.path)], capture_output=True, text=True, check=False)
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["findings"] == []
    found = subprocess.run([*args, "--large-files", "scan", str(repo.path)], capture_output=True, text=True)
    assert found.returncode == 1, found.stderr
    assert [f["path"] for f in json.loads(found.stdout)["findings"]] == ["big.txt"]


@pytest.mark.parametrize("keyword_engine", ["auto", "python"])
def test_may_hold_keeps_every_buffer_that_examines_to_something(
    tokens: TokenGenerator, keyword_engine: str
) -> None:
    import base64
    import random

    engine = Engine(ScanOptions(), keyword_engine=keyword_engine)
    rng = random.Random(7)
    token = tokens.sqco()
    kinds: list[bytes] = [
        b"Fix the build\n\nNothing to see.\n",
        f"Add config\n\nSONAR_TOKEN={token}\n".encode(),
        b"encoded: " + base64.b64encode(f"sonar.token={token}".encode()) + b"\n",  # triggers only
        "\ufeffSONAR_TOKEN=".encode("utf-16-le") + token.encode("utf-16-le"),  # not plain text
        b"\x00\x01binary\x00" + token.encode(),
        b"sqc",  # with the next one, a keyword across the joint
        b"o_ and more",
        b"",
        f"token {token} # leakscan:allow\n".encode(),
    ]
    buffers = [rng.choice(kinds) for _ in range(400)]
    kept = engine.may_hold(buffers)
    assert kept == sorted(set(kept))
    for index, data in enumerate(buffers):
        outcome = engine.examine_bytes(data)
        found = (outcome.matches, outcome.errors, outcome.skips, outcome.suppressed, outcome.known_examples)
        if found != ((), (), (), 0, 0):
            assert index in kept, data
    assert len(kept) < len(buffers)  # the plain messages were left out
    assert engine.may_hold([]) == [] and engine.may_hold([b"plain"]) == []


@pytest.mark.parametrize("max_file_size", [50 * 1024 * 1024, 1000])
def test_examine_many_gives_what_examine_gives_blob_by_blob(
    tokens: TokenGenerator, max_file_size: int
) -> None:
    import base64
    import gzip
    import random

    engine = Engine(ScanOptions(max_file_size=max_file_size))
    rng = random.Random(11)
    token = tokens.sqco()
    contents: list[bytes] = [
        b"def main():\n    return 0\n",
        f"SONAR_TOKEN={token}\n".encode(),
        b"x = '" + base64.b64encode(f"sonar.token={token}".encode()) + b"'\n",
        "\ufeffSONAR_TOKEN=".encode("utf-16-le") + token.encode("utf-16-le"),
        b"\x00\x01binary\x00" + token.encode(),
        gzip.compress(f"sonar.token={token}\n".encode(), mtime=0),
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 12\n",
        b"",
        f"token {token} # leakscan:allow\n".encode(),
        b"plain text " * 8000 + f"\nsonar.token={token}\n".encode(),  # over the grouped size
        b"plain text " * 8000,
    ]
    problems = [Unreadable("cannot open: gone"), Unreadable("not a regular file", skip=True)]
    blobs: list[Blob] = []
    for n in range(300):
        origin = FileOrigin(f"f{n}.txt", f"f{n}.txt")
        choice = rng.randrange(len(contents) + len(problems))
        if choice >= len(contents):
            blobs.append(Blob(origin, reader=MemoryReader(b"abc", problem=problems[choice - len(contents)])))
        elif rng.random() < 0.5:
            blobs.append(Blob(origin, contents[choice]))
        else:
            blobs.append(Blob(origin, reader=MemoryReader(contents[choice])))
    grown = contents[9]  # listed at 10 bytes, over 64 KiB when read: examined, not held
    blobs.append(Blob(FileOrigin("grown.txt", "grown.txt"), reader=GrownReader(grown, listed=10)))
    one_by_one = [engine.examine(blob) for blob in blobs]
    joined: list[int] = []
    may_hold = engine.may_hold

    def spy(buffers: Sequence[bytes]) -> list[int]:
        joined.extend(len(data) for data in buffers)
        return may_hold(buffers)

    engine.may_hold = spy  # type: ignore[method-assign]
    assert list(engine.examine_many(blobs)) == one_by_one
    assert joined and max(joined) <= GROUPED_MAX_BYTES  # what a batch holds: its listed sizes
    assert {o.skipped for o in one_by_one} >= {None, "not a regular file"}
    assert any(o.failed for o in one_by_one) and any(o.matches for o in one_by_one)
    assert list(engine.examine_many([])) == []
