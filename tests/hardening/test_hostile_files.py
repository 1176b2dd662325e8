"""Hostile and broken files: special files never opened, odd encodings and line endings located
exactly, hostile path names escaped in text and kept losslessly in JSON."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from leakscan.models import Blob
from leakscan.options import ScanOptions
from leakscan.scan import scan
from leakscan.sources.files import FileWalker
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli


def _positions(proc_stdout: str) -> list[tuple[str, int, int, str]]:
    report = json.loads(proc_stdout)
    return [(Path(f["path"]).name, f["line"], f["column"], f["secret"]) for f in report["findings"]]


def test_special_files_are_never_opened(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    os.mkfifo(tmp_path / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    (tmp_path / "real.txt").write_text(f"t={tokens.sqco()}\n")
    try:
        proc = run_cli("scan", "--format", "json", str(tmp_path), timeout=60)
    finally:
        server.close()
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["stats"]["skipped"]}
    assert skipped == {
        "fifo": "not a regular file",
        "sock": "not a regular file",
        "loop-a": "symlink",
        "loop-b": "symlink",
        "dangling": "symlink",
    }
    assert [Path(f["path"]).name for f in report["findings"]] == ["real.txt"]


def test_vanished_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text("x")
    [ref] = list(FileWalker([str(tmp_path)]))
    (tmp_path / "gone.txt").unlink()
    assert isinstance(ref, Blob)
    failed = ref.load(1 << 20)
    assert failed.path.endswith("gone.txt")
    assert "No such file" in failed.error  # type: ignore[union-attr]


def test_unlistable_folder_is_reported_and_scan_goes_on(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "open.txt").write_text(f"t={tokens.sqco()}\n")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(ScanOptions(paths=(str(tmp_path),), workers=1))
    assert [(Path(e.path).name, e.error) for e in result.errors] == [
        ("locked", "cannot list folder: Permission denied")
    ]
    assert [Path(f.path).name for f in result.findings] == ["open.txt"]
    assert not result.complete


@pytest.mark.parametrize(
    ("name", "content", "line", "column"),
    [
        ("crlf.txt", "a\r\nb\r\nkey = {t}\r\n", 3, 7),
        ("cr.txt", "a\rb\rkey = {t}\r", 3, 7),
        ("mixed.txt", "a\r\n\rb\nkey = {t}", 4, 7),
        ("multibyte.txt", "é€😀 = {t}", 1, 7),
        ("no-newline.txt", "{t}", 1, 1),
    ],
)
def test_line_and_column_for_line_endings_and_multibyte(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli, name: str, content: str, line: int, column: int
) -> None:
    token = tokens.sqco()
    (tmp_path / name).write_bytes(content.format(t=token).encode("utf-8"))
    proc = run_cli("scan", "--format", "json", "--show-secrets", str(tmp_path))
    assert _positions(proc.stdout) == [(name, line, column, token)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli, encoding: str
) -> None:
    token = tokens.sqco()
    (tmp_path / "w.txt").write_bytes(f"first line\r\nsonar.token = {token}\r\n".encode(encoding))
    proc = run_cli("scan", "--format", "json", "--show-secrets", str(tmp_path))
    assert _positions(proc.stdout) == [("w.txt", 2, 15, token)]


def test_degenerate_files(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "nuls.bin").write_bytes(b"\0" * 100_000)
    (tmp_path / "invalid-utf8.txt").write_bytes(b"\xfa\xfb x=" + token.encode() + b"\n\xc3")
    (tmp_path / "minified.js").write_bytes(b"var a=1;" * 2_500_000 + b'k="' + token.encode() + b'";')
    proc = run_cli("scan", "--format", "json", "--show-secrets", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert _positions(proc.stdout) == [
        ("invalid-utf8.txt", 1, 6, token),
        ("minified.js", 1, 20_000_004, token),
    ]
    report = json.loads(proc.stdout)
    assert report["stats"]["skipped"] == [{"path": str(tmp_path / "nuls.bin"), "reason": "binary"}]
    assert report["stats"]["files_scanned"] == 3


def test_large_file_streamed_across_chunk_boundaries(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """Tokens planted across the 8 MiB chunk boundaries of a ~300 MB file, found exactly once."""
    from leakscan.engine import STREAM_CHUNK

    path = tmp_path / "huge.log"
    planted = []
    line_block = b"2026-11-27 INFO request served in 3 ms\n" * 1024
    with path.open("wb") as handle:
        for boundary in range(1, 37):
            while handle.tell() + len(line_block) < boundary * STREAM_CHUNK - 30:
                handle.write(line_block)
            handle.write(b"\n" * (boundary * STREAM_CHUNK - 30 - handle.tell()))
            token = tokens.sqco()
            planted.append(token)
            handle.write(b"token=" + token.encode() + b"\n")
    assert path.stat().st_size > 300 * 1000 * 1000
    skipped = run_cli("scan", "--format", "json", str(tmp_path))
    assert skipped.returncode == 0
    assert json.loads(skipped.stdout)["stats"]["skipped"][0]["reason"].startswith("too large")
    proc = run_cli("scan", "--large-files", "scan", "--format", "json", "--show-secrets", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert [f["secret"] for f in json.loads(proc.stdout)["findings"]] == planted
    assert [f["column"] for f in json.loads(proc.stdout)["findings"]] == [7] * len(planted)


def test_hostile_path_names(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    names = [b"with space.txt", b"new\nline.txt", b"bad-\xff-utf8.txt", b"\x1b[2J\x1b[31mred.txt"]
    for name in names:
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as handle:
            handle.write(b"t=" + token.encode() + b"\n")
    text = run_cli("scan", str(tmp_path))
    assert text.returncode == 1
    assert "\x1b" not in text.stdout and "\nline.txt" not in text.stdout
    assert "\\x1b[2J\\x1b[31mred.txt:1:3" in text.stdout
    assert "new\\x0aline.txt:1:3" in text.stdout
    assert "bad-\\xff-utf8.txt:1:3" in text.stdout
    proc = run_cli("scan", "--format", "json", str(tmp_path))
    paths = sorted(os.fsencode(f["path"]) for f in json.loads(proc.stdout)["findings"])
    assert paths == sorted(os.path.join(os.fsencode(tmp_path), name) for name in names)
