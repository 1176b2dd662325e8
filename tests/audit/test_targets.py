"""Repository lists, and GitHub / GitLab listing against a fake API on 127.0.0.1."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from leakscan.audit.targets import (
    ListingError,
    PlatformLister,
    collect_targets,
    load_repos_file,
    parse_target,
)
from tests.audit.conftest import LocalServer


def reply(
    request: BaseHTTPRequestHandler, status: int, body: object, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)


def github_repo(name: str, **flags: bool) -> dict[str, object]:
    return {"full_name": f"acme/{name}", "clone_url": f"https://git.example/acme/{name}.git", **flags}


def test_repos_file_comments_and_blank_lines(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# header\nhttps://h.example/a/b.git  # note\n\n   \nssh://git@h.example/c/d\n#x\n")
    assert load_repos_file(listing) == ["https://h.example/a/b.git", "ssh://git@h.example/c/d"]


def test_url_targets_drop_credentials() -> None:
    (target,) = parse_target("https://user:s3cret@h.example/org/repo.git")
    assert (target.name, target.url, target.fetch_url) == (
        "org/repo",
        "https://h.example/org/repo.git",
        "https://user:s3cret@h.example/org/repo.git",
    )
    (scp,) = parse_target("git@h.example:org/other.git")
    assert (scp.name, scp.local) == ("org/other", False)


def test_github_pagination_rate_limit_forks_and_archived(local_server: LocalServer) -> None:
    pages = {
        "1": [github_repo("one"), github_repo("fork", fork=True)],
        "2": [github_repo("old", archived=True), github_repo("two")],
    }
    limited = []

    def handle(request: BaseHTTPRequestHandler) -> None:
        assert request.headers["Authorization"] == "Bearer tok"
        page = "2" if "page=2" in request.path else "1"
        if page == "2" and not limited:
            limited.append(1)
            reply(
                request,
                403,
                {"message": "API rate limit exceeded"},
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3)},
            )
            return
        link = f'<{local_server.url}/orgs/acme/repos?per_page=100&type=all&page=2>; rel="next"'
        reply(request, 200, pages[page], {"Link": link} if page == "1" else {"X-RateLimit-Remaining": "42"})

    local_server.handler.append(handle)
    waits: list[float] = []
    lister = PlatformLister(sleep=waits.append)
    found = lister.github("acme", base_url=local_server.url, token="tok", forks=False, archived=False)
    assert [t.name for t in found] == ["acme/one", "acme/two"]
    assert [t.token_env for t in found] == ["GITHUB_TOKEN", "GITHUB_TOKEN"]
    assert len(waits) == 1 and 1.0 <= waits[0] <= 3.0  # waited for X-RateLimit-Reset
    assert local_server.requests == [
        "/orgs/acme/repos?per_page=100&type=all",
        "/orgs/acme/repos?per_page=100&type=all&page=2",
        "/orgs/acme/repos?per_page=100&type=all&page=2",
    ]
    everything = collect_targets(
        [],
        [],
        ["acme"],
        [],
        github_url=local_server.url,
        gitlab_url="",
        github_token="tok",
        gitlab_token=None,
        forks=True,
        archived=True,
        lister=lister,
    )
    assert [t.name for t in everything] == ["acme/one", "acme/fork", "acme/old", "acme/two"]


def test_gitlab_next_page_header_retry_after_and_5xx(local_server: LocalServer) -> None:
    calls: list[str] = []

    def handle(request: BaseHTTPRequestHandler) -> None:
        calls.append(request.path)
        assert request.headers["PRIVATE-TOKEN"] == "glt"
        if len(calls) == 1:
            reply(request, 429, {"message": "slow down"}, {"Retry-After": "2"})
        elif len(calls) == 2:
            reply(request, 502, {"message": "bad gateway"})
        elif "page=2" in request.path:
            reply(
                request,
                200,
                [
                    {
                        "path_with_namespace": "grp/sub/b",
                        "http_url_to_repo": "https://gl.example/b.git",
                        "forked_from_project": {"id": 1},
                    }
                ],
            )
        else:
            reply(
                request,
                200,
                [{"path_with_namespace": "grp/a", "http_url_to_repo": "https://gl.example/a.git"}],
                {"X-Next-Page": "2"},
            )

    local_server.handler.append(handle)
    waits: list[float] = []
    found = PlatformLister(sleep=waits.append).gitlab(
        "grp/sub", base_url=local_server.url, token="glt", forks=False, archived=False
    )
    assert [(t.name, t.url, t.token_env) for t in found] == [
        ("grp/a", "https://gl.example/a.git", "GITLAB_TOKEN")
    ]
    assert waits == [2.0, 1.0]
    assert (
        calls[0]
        == "/api/v4/groups/grp%2Fsub/projects?per_page=100&include_subgroups=true&order_by=id&sort=asc"
        "&archived=false"
    )
    assert "page=2" in calls[-1]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, {"message": "Not Found"}, "GitHub organisation 'ghost': HTTP 404: Not Found"),
        (401, {"message": "Bad credentials"}, "GitHub organisation 'ghost': HTTP 401: Bad credentials"),
        (200, {"message": "not a list"}, "GitHub organisation 'ghost': unexpected reply (not a list)"),
    ],
    ids=["not-found", "bad-token", "not-a-list"],
)
def test_listing_errors(local_server: LocalServer, status: int, body: object, message: str) -> None:
    local_server.handler.append(lambda request: reply(request, status, body))
    with pytest.raises(ListingError) as caught:
        PlatformLister(sleep=lambda _s: None).github(
            "ghost", base_url=local_server.url, token=None, forks=False, archived=False
        )
    assert str(caught.value).startswith(message)


def test_persistent_5xx_gives_up(local_server: LocalServer) -> None:
    local_server.handler.append(lambda request: reply(request, 503, {}))
    with pytest.raises(ListingError, match=r"gave up after 4 attempts \(HTTP 503\)"):
        PlatformLister(sleep=lambda _s: None).github(
            "acme", base_url=local_server.url, token=None, forks=False, archived=False
        )
    assert len(local_server.requests) == 4


def test_rate_limit_longer_than_allowed(local_server: LocalServer) -> None:
    local_server.handler.append(lambda request: reply(request, 429, {}, {"Retry-After": "3600"}))
    with pytest.raises(ListingError, match="rate limited for 3600s"):
        PlatformLister(sleep=lambda _s: None, max_wait=60).gitlab(
            "g", base_url=local_server.url, token=None, forks=False, archived=False
        )


def test_cli_github_org(local_server: LocalServer, tmp_path: Path, run_cli: object) -> None:
    local_server.handler.append(lambda request: reply(request, 404, {"message": "Not Found"}))
    from tests.conftest import RunCli

    assert callable(run_cli)
    run: RunCli = run_cli  # type: ignore[assignment]
    proc = run(
        "audit", "--github-org", "ghost", "--github-url", local_server.url, "--store", str(tmp_path / "s")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "Error: GitHub organisation 'ghost': HTTP 404: Not Found"
