"""Fixtures for audits: small repositories with known tokens, and local HTTP servers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from leakscan.synthetic import TokenGenerator
from tests.gitrepo import GitRepo, MakeRepo, run_git


@dataclass(slots=True)
class Estate:
    """Repositories made for an audit, with the token each holds."""

    root: Path
    repos: dict[str, GitRepo] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def bare(self, name: str) -> Path:
        """A bare mirror of repository ``name`` next to it (``NAME.git``)."""
        target = self.root / f"{name}.git"
        run_git(self.root, "clone", "-q", "--mirror", str(self.repos[name].path), str(target))
        return target


MakeEstate = Callable[..., Estate]


@pytest.fixture
def make_estate(make_repo: MakeRepo, tokens: TokenGenerator, tmp_path: Path) -> MakeEstate:
    """``make_estate(n)``: repos r0..r{n-1} in tmp_path, each with 3 commits and one token (and a
    4th commit of ``bulk`` files)."""

    def make(count: int, prefix: str = "r", bulk: int = 0) -> Estate:
        estate = Estate(tmp_path)
        for index in range(count):
            name = f"{prefix}{index}"
            repo = make_repo(name)
            token = tokens.sqco()
            repo.commit({"README.md": f"# {name}\n", "src/main.py": f"print({index})\n"}, message="start")
            repo.commit({"conf/sonar.properties": f"sonar.token={token}\n"}, message="configure")
            repo.commit({"src/util.py": f"VALUE = {index}\n"}, message="more")
            if bulk:  # more blobs, so that scanning takes a while
                repo.commit(
                    {f"bulk/f{n}.txt": f"{name} line {n}\n" * 200 for n in range(bulk)}, message="bulk"
                )
            estate.repos[name] = repo
            estate.tokens[name] = token
        return estate

    return make


Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(slots=True)
class LocalServer:
    url: str
    requests: list[str]
    handler: list[Handler]


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """A plain HTTP server on 127.0.0.1 whose handler the test sets (``server.handler[0]``)."""
    requests: list[str] = []
    handler: list[Handler] = []

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            requests.append(self.path)
            handler[0](self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{server.server_address[1]}", requests, handler)
    finally:
        server.shutdown()
        server.server_close()
