"""The vendored report schemas are the upstream files, and no test reads outside the repository."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import REPO_ROOT
from tests.reports.conftest import GITLAB_SCHEMA, SARIF_SCHEMA

UPSTREAM_SHA256 = {
    SARIF_SCHEMA: "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e",
    GITLAB_SCHEMA: "a394576ebb6f598d07f2b355a333f01b338fed818c200ef5f392d3d9ba35bd1a",
}


def test_schemas_are_the_upstream_files() -> None:
    for path, digest in UPSTREAM_SHA256.items():
        assert path.is_relative_to(REPO_ROOT / "tests" / "data")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path.name
        assert path.name in (path.parent / "README.md").read_text(encoding="utf-8")


def test_no_test_reads_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|/work/shared|parent / \"shared\"")
    offenders = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "tests").rglob("*.py")
        if path.name != "test_schemas_vendored.py" and outside.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
