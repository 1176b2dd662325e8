"""The mirror cache keeps no credentials; the store survives a crash mid-write and a reader."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys
import textwrap
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from leakscan.audit.mirror import MirrorError, mirror, mirror_path, strip_credentials
from leakscan.audit.scan_repo import BlobSet, RepoOutcome
from leakscan.audit.store import Store
from tests.audit.conftest import LocalServer, MakeEstate
from tests.gitrepo import run_git


def test_clone_over_http_with_credentials_keeps_none(
    make_estate: MakeEstate, tmp_path: Path, local_server: LocalServer
) -> None:
    estate = make_estate(1)
    served = tmp_path / "served"
    served.mkdir()
    bare = estate.bare("r0")
    run_git(bare, "update-server-info")
    bare.rename(served / "r0.git")
    expected = "Basic " + base64.b64encode(b"alice:s3cret-pass").decode()

    def handle(request: SimpleHTTPRequestHandler) -> None:
        if request.headers.get("Authorization") != expected:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="git"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        path = served / request.path.split("?")[0].lstrip("/")
        data = path.read_bytes() if path.is_file() else None
        request.send_response(200 if data is not None else 404)
        request.send_header("Content-Length", str(len(data or b"")))
        request.end_headers()
        request.wfile.write(data or b"")

    local_server.handler.append(handle)  # type: ignore[arg-type]
    url = local_server.url.replace("http://", "http://alice:s3cret-pass@") + "/r0.git"
    cache = tmp_path / "cache"
    path = mirror(url, cache, timeout=60, retries=0)
    assert path == mirror_path(cache, strip_credentials(url))
    assert run_git(path, "rev-parse", "refs/heads/main") == estate.repos["r0"].head()
    for file in path.rglob("*"):
        if file.is_file() and file.suffix not in (".pack", ".idx"):
            assert b"s3cret-pass" not in file.read_bytes(), file
    mirror(url, cache, timeout=60, retries=0)  # fetch --prune with the same credentials
    with pytest.raises(MirrorError) as caught:
        mirror(url.replace("s3cret-pass", "wrong-pass"), tmp_path / "other", timeout=60, retries=1)
    assert "wrong-pass" not in str(caught.value)
    assert str(caught.value).startswith(local_server.url + "/r0.git: ")
    assert "(after 2 attempts)" in str(caught.value)


def test_blob_set_membership() -> None:
    ids = sorted(bytes([i]) * 20 for i in (3, 9, 200))
    known = BlobSet(b"".join(ids))
    assert len(known) == 3
    assert all(oid in known for oid in ids)
    assert bytes([4]) * 20 not in known and b"short" not in known and bytes(20) not in BlobSet(b"")


def outcome(name: str, blobs: int) -> RepoOutcome:
    packed = b"".join(i.to_bytes(20, "big") for i in range(blobs))
    return RepoOutcome(
        name, f"file:///{name}", "ok", tips={"HEAD": "x"}, blobs_scanned=blobs, clean_blobs=packed
    )


def test_store_survives_a_crash_mid_write(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    with Store(store) as opened:
        opened.record(outcome("first", 10), opened.ruleset_id("rs"), "t1")
    script = textwrap.dedent(
        f"""
        import os, signal
        from leakscan.audit.store import Store
        from pathlib import Path
        store = Store(Path({str(store)!r}))
        rows = ((1, i.to_bytes(20, "big")) for i in range(10**9))
        store.db.execute("BEGIN IMMEDIATE")
        store.db.execute("INSERT INTO repositories (url, name, status) VALUES ('u', 'second', 'ok')")
        for n, row in enumerate(rows):
            store.db.execute("INSERT OR IGNORE INTO scanned_blobs VALUES (?, ?)", row)
            if n == 20000:
                print("writing", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and proc.stdout == "writing\n", proc.stderr
    with Store(store) as opened:
        assert [r.name for r in opened.repositories()] == ["first"]
        assert opened.blob_count() == 10
        assert opened.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        opened.record(outcome("second", 5), opened.ruleset_id("rs"), "t2")
        assert [r.name for r in opened.repositories()] == ["first", "second"]


def test_concurrent_reader_sees_committed_state_only(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    with Store(store) as writer:
        ruleset = writer.ruleset_id("rs")
        writer.record(outcome("first", 3), ruleset, "t1")
        reader = sqlite3.connect(store, timeout=1)
        writer.db.execute("BEGIN IMMEDIATE")
        writer.db.execute("INSERT INTO repositories (url, name, status) VALUES ('u2', 'pending', 'ok')")
        # WAL: the reader is not blocked by the open write transaction and sees the last commit
        assert reader.execute("SELECT name FROM repositories").fetchall() == [("first",)]
        writer.db.execute("COMMIT")
        assert reader.execute("SELECT name FROM repositories ORDER BY name").fetchall() == [
            ("first",),
            ("pending",),
        ]
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        reader.close()
        assert writer.known_blobs(ruleset) == b"".join(i.to_bytes(20, "big") for i in range(3))
