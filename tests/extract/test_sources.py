"""Packed and encoded content end to end, in every source: files, stdin, staged, history."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo

SQCO = "sonarqube-cloud-scoped-org-token"


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_tgz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def k8s_secret(token: str) -> str:
    value = base64.b64encode(f"SONAR_TOKEN={token}\n".encode()).decode()
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ci\ndata:\n  env: {value}\n"


def found(report: dict[str, Any]) -> list[tuple[str, str, int, int, str]]:
    return sorted((f["path"], f["secret"], f["line"], f["column"], f["rule_id"]) for f in report["findings"])


def packed_tree(root: Path, tokens: TokenGenerator) -> dict[str, str]:
    names = ["secret", "bundle", "release", "backup", "nested"]
    t = {name: tokens.sqco() for name in names}
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "secret.yaml").write_text(k8s_secret(t["secret"]))
    (root / "deploy").mkdir()
    (root / "deploy" / "bundle.zip").write_bytes(
        make_zip({"conf/app.properties": f"a=1\nsonar.token={t['bundle']}\n".encode()})
    )
    (root / "release.tgz").write_bytes(make_tgz({"etc/app.env": f"SONAR_TOKEN={t['release']}\n".encode()}))
    (root / ".env.gz").write_bytes(gzip.compress(f"SONAR_TOKEN={t['backup']}\n".encode()))
    inner = make_zip({"k8s/secret.yaml": k8s_secret(t["nested"]).encode()})
    (root / "app.jar").write_bytes(make_zip({"lib/inner.zip": inner}))
    return t


def test_files_every_form_with_its_chain(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    t = packed_tree(tmp_path / "tree", tokens)
    proc = run_cli("scan", "--format", "json", "--show-secrets", ".", cwd=tmp_path / "tree")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert found(report) == sorted(
        [
            ("./k8s/secret.yaml (base64)", t["secret"], 1, 13, SQCO),
            ("./deploy/bundle.zip!conf/app.properties", t["bundle"], 2, 13, SQCO),
            ("./release.tgz!etc/app.env", t["release"], 1, 13, SQCO),
            ("./.env.gz (gzip)", t["backup"], 1, 13, SQCO),
            ("./app.jar!lib/inner.zip!k8s/secret.yaml (base64)", t["nested"], 1, 13, SQCO),
        ]
    )
    secret = next(f for f in report["findings"] if f["secret"] == t["secret"])
    assert secret["outer"] == {
        "path": "./k8s/secret.yaml",
        "line": 6,
        "column": 8,
        "layers": [{"member": "", "encoding": "base64", "line": 6, "column": 8}],
    }
    assert report["stats"]["skipped"] == []


def test_text_report_and_depth_off(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    (tmp_path / "secret.yaml").write_text(k8s_secret(token))
    proc = run_cli("scan", "secret.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith(
        "secret.yaml (base64):1:13 (at secret.yaml:6:8)  S7791 SonarQube Cloud Scoped Organization Token"
    )
    off = run_cli("scan", "--max-decode-depth", "0", "secret.yaml", cwd=tmp_path)
    assert off.returncode == 0 and off.stdout.startswith("leakscan: 0 finding(s), 1 scanned")
    (tmp_path / ".leakscan.toml").write_text("decode_depth = 0\n")
    assert run_cli("scan", "secret.yaml", cwd=tmp_path).returncode == 0
    assert run_cli("scan", "--max-decode-depth", "3", "secret.yaml", cwd=tmp_path).returncode == 1


def test_bad_decode_depth_is_one_line(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / ".leakscan.toml").write_text('decode_depth = "deep"\n')
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("Error: ") and line.endswith(
        ".leakscan.toml: key 'decode_depth': expected a whole number from 0 (off) to 10"
    )
    bad = run_cli("scan", "--max-decode-depth", "11", ".", cwd=tmp_path)
    assert bad.returncode == 2 and "--max-decode-depth" in bad.stderr


def test_limits_are_counted_skips(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "bomb.zip").write_bytes(make_zip({"zeros.bin": bytes(32 << 20)}))
    (tmp_path / "broken.gz").write_bytes(gzip.compress(b"hello world\n" * 5000)[:-100])
    (tmp_path / "old.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + bytes(64))
    proc = run_cli("scan", "--format", "json", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    skipped = sorted((s["path"], s["reason"]) for s in json.loads(proc.stdout)["stats"]["skipped"])
    assert skipped == [
        ("./bomb.zip!zeros.bin", "compression ratio over 100 (zip bomb?)"),
        ("./broken.gz (gzip)", "truncated gzip stream"),
        ("./old.7z", "unsupported archive (7z)"),
    ]
    text = run_cli("scan", ".", cwd=tmp_path)
    assert (
        "3 skipped (1 compression ratio over 100, 1 truncated gzip stream, 1 unsupported archive)"
        in text.stdout
    )


def test_ci_formats_point_at_the_outer_file(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token, member = tokens.sqco(), tokens.sqco()
    (tmp_path / "secret.yaml").write_text(k8s_secret(token))
    (tmp_path / "bundle.zip").write_bytes(
        make_zip({"conf/app.properties": f"sonar.token={member}\n".encode()})
    )
    sarif = json.loads(run_cli("scan", "--format", "sarif", ".", cwd=tmp_path).stdout)
    locations = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: (
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["message"]["text"],
        )
        for r in sarif["runs"][0]["results"]
    }
    assert set(locations) == {"secret.yaml", "bundle.zip"}
    assert locations["secret.yaml"][0] == 6
    assert "Found inside secret.yaml (base64), at line 1, column 13 there." in locations["secret.yaml"][1]
    assert locations["bundle.zip"][0] == 1
    assert "Found inside bundle.zip!conf/app.properties, at line 1, column 13" in locations["bundle.zip"][1]
    gitlab = json.loads(run_cli("scan", "--format", "gitlab", ".", cwd=tmp_path).stdout)
    assert sorted(v["location"]["file"] for v in gitlab["vulnerabilities"]) == ["bundle.zip", "secret.yaml"]
    sonar = json.loads(run_cli("scan", "--format", "sonarqube", ".", cwd=tmp_path).stdout)
    assert sorted(
        (i["primaryLocation"]["filePath"], i["primaryLocation"]["textRange"]["startLine"])
        for i in sonar["issues"]
    ) == [
        ("bundle.zip", 1),
        ("secret.yaml", 6),
    ]


def test_baseline_fingerprint_includes_the_chain(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    (tmp_path / "a.zip").write_bytes(
        make_zip({"one.env": f"T={token}\n".encode(), "two.env": f"T={token}\n".encode()})
    )
    report = json.loads(run_cli("scan", "--format", "json", ".", cwd=tmp_path).stdout)
    fingerprints = {f["path"]: f["fingerprint"] for f in report["findings"]}
    assert set(fingerprints) == {"./a.zip!one.env", "./a.zip!two.env"}
    assert len(set(fingerprints.values())) == 2
    assert run_cli("baseline", "create", "--output", "base.json", ".", cwd=tmp_path).returncode == 0
    assert run_cli("scan", "--baseline", "base.json", ".", cwd=tmp_path).returncode == 0


def test_stdin_and_clirunner(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    header = f"GET / HTTP/1.1\nAuthorization: Basic {base64.b64encode(f'ci:{token}'.encode()).decode()}\n"
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "--show-secrets", "-"], input=header)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert found(report) == [("<stdin> (base64)", token, 1, 4, SQCO)]
    assert report["findings"][0]["outer"]["line"] == 2


def test_strings_of_a_compiled_file(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    import py_compile
    import sqlite3

    token, stored = tokens.sqco(), tokens.sqco()
    source = tmp_path / "src" / "settings.py"
    source.parent.mkdir()
    source.write_text(f'SONAR_TOKEN = "{token}"\n')
    py_compile.compile(str(source), cfile=str(tmp_path / "settings.pyc"))
    source.unlink()
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("create table kv (k text, v text)")
        connection.execute("insert into kv values ('sonar', ?)", (stored,))
    connection.close()
    report = json.loads(run_cli("scan", "--format", "json", "--show-secrets", ".", cwd=tmp_path).stdout)
    assert sorted((f["path"], f["secret"]) for f in report["findings"]) == sorted(
        [("./settings.pyc (strings)", token), ("./app.db (strings)", stored)]
    )


# --- staged and history ------------------------------------------------------------------------


def test_staged_archive_is_scanned_whole(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    old, new = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    repo.commit({"k8s/secret.yaml": k8s_secret(old), "README.md": "hi\n"}, "base")
    repo.stage(
        {
            "bundle.zip": make_zip({"conf/app.properties": f"sonar.token={new}\n".encode()}),
            "k8s/secret.yaml": k8s_secret(old) + "---\n" + k8s_secret(new),
        }
    )
    proc = run_cli("scan", "--staged", "--format", "json", "--show-secrets", cwd=repo.path)
    assert proc.returncode == 1, proc.stderr
    assert found(json.loads(proc.stdout)) == [
        ("bundle.zip!conf/app.properties", new, 1, 13, SQCO),
        ("k8s/secret.yaml (base64)", new, 1, 13, SQCO),
    ]


def test_history_deleted_secret_and_side_branch_zip(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    deleted, side = tokens.sqco(), tokens.sqco()
    repo = make_repo()
    added = repo.commit({"k8s/secret.yaml": k8s_secret(deleted)}, "add secret")
    repo.commit({"k8s/secret.yaml": None}, "remove secret")
    repo.checkout("side", create=True)
    zipped = repo.commit({"dist/app.zip": make_zip({"app.env": f"SONAR_TOKEN={side}\n".encode()})}, "zip")
    repo.checkout("main")
    proc = run_cli("history", "--format", "json", "--show-secrets", str(repo.path))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(
        (f["path"], f["secret"], f["commit"], f["present_at_head"]) for f in report["findings"]
    ) == sorted(
        [
            ("k8s/secret.yaml (base64)", deleted, added, False),
            ("dist/app.zip!app.env", side, zipped, False),
        ]
    )
