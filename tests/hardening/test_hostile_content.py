"""Hostile inputs for the content policy (audit 2026-12, D-9 D-10 D-26): encodings that used to be
scanned undecoded, and LFS-pointer look-alikes that used to be skipped, end to end."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo

POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def scan_json(run_cli: RunCli, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    proc = run_cli(*args, "--format", "json", "--show-secrets", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-32-be", codecs.BOM_UTF32_BE),
        ("utf-32-le", b""),
        ("utf-32-be", b""),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf32le-bom", "utf32be-bom", "utf32le", "utf32be"],
)
def test_wide_encodings_with_a_non_ascii_head_are_decoded(
    codec: str, bom: bytes, tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """D-9/D-26: 4,800 CJK characters (no NUL byte in UTF-16's first 8 KiB) before the token."""
    token = tokens.sqco()
    head = "中文注释" * 1200 if bom else "ascii head " * 500
    (tmp_path / "u.txt").write_bytes(bom + f"{head}\nsonar.token={token}\n".encode(codec))
    rc, report = scan_json(run_cli, "scan", str(tmp_path / "u.txt"))
    assert rc == 1
    assert [(f["secret"], f["line"], f["column"]) for f in report["findings"]] == [(token, 2, 13)]


def test_bom_without_any_nul_is_read_as_bytes(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """An 8-bit file that starts with the bytes of a BOM has no NUL: read as it is."""
    token = tokens.sqco()
    (tmp_path / "l.txt").write_bytes(codecs.BOM_UTF16_LE + f"x sonar.token={token}\n".encode())
    rc, report = scan_json(run_cli, "scan", str(tmp_path / "l.txt"))
    assert [(f["secret"], f["line"]) for f in report["findings"]] == [(token, 1)]


def test_lfs_pointer_look_alike_is_scanned_staged_and_in_history(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """D-10: only a blob that is exactly an LFS pointer is skipped; one with a token appended is
    scanned by `scan --staged` and `history`."""
    token = tokens.sqco()
    repo = make_repo()
    repo.stage({"c.properties": POINTER + f"sonar.token={token}\n", "model.bin": POINTER})
    rc, report = scan_json(run_cli, "scan", "--staged", ".", cwd=repo.path)
    assert rc == 1
    assert [(f["path"], f["secret"], f["line"]) for f in report["findings"]] == [("c.properties", token, 4)]
    assert report["stats"]["skipped"] == [{"path": "model.bin", "reason": "lfs-pointer"}]
    repo.commit()
    rc, report = scan_json(run_cli, "history", str(repo.path))
    assert rc == 1
    assert [(f["path"], f["secret"]) for f in report["findings"]] == [("c.properties", token)]
    assert report["stats"]["skipped"] == [{"path": "model.bin", "reason": "lfs-pointer"}]


def test_leading_nul_is_binary_by_policy(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """A NUL byte at the start makes a blob binary (documented): only its printable strings are
    searched, by the exact-shape rules; with decoding off it is skipped and listed."""
    token = tokens.sqco()
    repo = make_repo()
    repo.stage({"n.properties": f"\0sonar.token={token}\n"})
    rc, report = scan_json(run_cli, "scan", "--staged", ".", cwd=repo.path)
    assert rc == 1
    assert [(f["path"], f["secret"]) for f in report["findings"]] == [("n.properties (strings)", token)]
    rc, report = scan_json(run_cli, "scan", "--staged", "--max-decode-depth", "0", ".", cwd=repo.path)
    assert (rc, report["findings"]) == (0, [])
    assert report["stats"]["skipped"] == [{"path": "n.properties", "reason": "binary"}]
