"""Damaged and extreme repositories: no crash, no hang, the right exit code, and the summary says
exactly what could not be read."""

from __future__ import annotations

import json
import os
from pathlib import Path

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo


def test_corrupt_pack_is_reported_not_fatal(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    token = tokens.sqco()
    repo.commit({"a.txt": "".join(f"line {n} of some text\n" for n in range(4000))})
    repo.commit({"leak.env": f"SONAR_TOKEN={token}\n"})
    repo.git("repack", "-adq")
    [pack] = list((repo.path / ".git" / "objects" / "pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    proc = run_cli("history", "--format", "json", str(repo.path), timeout=120)
    assert proc.returncode in (1, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    errors = report["stats"]["errors"]
    assert report["stats"]["complete"] is False
    assert errors
    assert all(e["error"].startswith(("unreadable blob object", "missing tree object")) for e in errors)
    if proc.returncode == 2:
        assert report["findings"] == []


def test_thousands_of_refs(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    repo = make_repo()
    base = repo.commit({"readme.txt": "hello\n"})
    lines = [f"{base} refs/tags/t{n:04d}\n" for n in range(3000)]
    lines += [f"{base} refs/heads/b{n:04d}\n" for n in range(3000)]
    packed = repo.path / ".git" / "packed-refs"
    packed.write_text("# pack-refs with: peeled fully-peeled sorted\n" + "".join(sorted(lines)))
    token = tokens.sqco()
    repo.checkout("b1234")
    leak = repo.commit({"leak.txt": f"t={token}\n"})
    proc = run_cli("history", "--format", "json", "--show-secrets", str(repo.path), timeout=120)
    assert proc.returncode == 1, proc.stderr
    [finding] = json.loads(proc.stdout)["findings"]
    assert (finding["secret"], finding["commit"], finding["path"]) == (token, leak, "leak.txt")


def test_commit_with_thousands_of_files(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    repo = make_repo()
    token = tokens.sqco()
    files: dict[str, str | bytes | None] = {f"d{n % 50}/f{n}.txt": f"value {n}\n" for n in range(5000)}
    files["d7/f4007.txt"] = f"t={token}\n"
    sha = repo.commit(files)
    proc = run_cli("history", "--format", "json", "--show-secrets", str(repo.path), timeout=120)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert [(f["path"], f["commit"], f["secret"]) for f in report["findings"]] == [
        ("d7/f4007.txt", sha, token)
    ]
    assert report["stats"]["files_scanned"] == 5000


def test_huge_and_binary_blobs_are_skipped_with_reasons(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    huge = b"x" * (3 * 1024 * 1024) + f"\nt={tokens.sqco()}\n".encode()
    repo.commit(
        {
            "huge.log": huge,
            "image.bin": b"\0\1\2" * 100_000,
            "ok.txt": "fine\n",
        }
    )
    proc = run_cli("history", "--max-file-size", "1MiB", "--format", "json", str(repo.path))
    assert proc.returncode == 0, proc.stderr
    skipped = {s["path"]: s["reason"] for s in json.loads(proc.stdout)["stats"]["skipped"]}
    assert skipped == {"huge.log": f"too large ({len(huge)} bytes > 1048576)", "image.bin": "binary"}
    found = run_cli("history", "--format", "json", str(repo.path))
    assert found.returncode == 1
    assert [f["path"] for f in json.loads(found.stdout)["findings"]] == ["huge.log"]


def test_non_utf8_and_control_characters_in_git_paths(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    token = tokens.sqco()
    name = b"evil-\x1b[31m-\xff.txt"
    with open(os.path.join(os.fsencode(repo.path), name), "wb") as handle:
        handle.write(f"t={token}\n".encode())
    repo.git("add", "-A")
    repo.commit()
    text = run_cli("history", str(repo.path))
    assert text.returncode == 1, text.stderr
    assert "\x1b" not in text.stdout
    assert "evil-\\x1b[31m-" in text.stdout
    proc = run_cli("history", "--format", "json", str(repo.path))
    [finding] = json.loads(proc.stdout)["findings"]
    assert Path(finding["path"]).name.startswith("evil-\x1b[31m-")
