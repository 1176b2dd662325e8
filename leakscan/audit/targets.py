"""What to audit: git URLs, local repositories, folders of clones, repository lists, and the
repositories of a GitHub organisation or GitLab group listed through their REST APIs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from msgspec import Struct

from leakscan.audit.mirror import strip_credentials
from leakscan.errors import InputError, LeakscanError, UsageError

GITHUB_API = "https://api.github.com"
GITLAB_URL = "https://gitlab.com"
PER_PAGE = 100
MAX_ATTEMPTS = 4
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class ListingError(LeakscanError):
    """A GitHub/GitLab listing that failed (bad group, bad token, server error)."""


class Target(Struct, frozen=True):
    """One repository: ``url`` as stored and shown (no credentials), ``fetch_url`` as git gets it."""

    name: str
    url: str
    fetch_url: str
    local: bool
    token_env: str | None = None


def is_git_dir(path: Path) -> bool:
    """A working tree with .git, or a bare repository / mirror."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def parse_target(text: str) -> list[Target]:
    """A URL, a repository path, or a folder whose subfolders are repositories."""
    if "://" in text or _SCP.match(text):
        clean = strip_credentials(text)
        parts = urlsplit(clean)
        name = parts.path.strip("/").removesuffix(".git") or clean
        if parts.scheme == "file":
            name = name.rsplit("/", 1)[-1]
        if _SCP.match(text):
            name = text.split(":", 1)[1].strip("/").removesuffix(".git")
        return [Target(name, clean, text, local=False)]
    path = Path(text)
    if not path.exists():
        raise UsageError(f"{text}: no such repository path, and not a git URL")
    if is_git_dir(path):
        return [_local(path)]
    if path.is_dir():
        found = [_local(child) for child in sorted(path.iterdir()) if child.is_dir() and is_git_dir(child)]
        if not found:
            raise UsageError(f"{text}: neither a git repository nor a folder of repositories")
        return found
    raise UsageError(f"{text}: not a git repository")


def _local(path: Path) -> Target:
    resolved = path.resolve()
    return Target(resolved.name.removesuffix(".git"), str(resolved), str(resolved), local=True)


def load_repos_file(path: Path) -> list[str]:
    """One target per line; blank lines and ``#`` comments (whole-line or after a space) ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read repository list: {exc}") from exc
    entries = []
    for line in text.splitlines():
        entry = re.sub(r"(^|\s)#.*$", "", line).strip()
        if entry:
            entries.append(entry)
    return entries


def dedupe(targets: list[Target]) -> list[Target]:
    """Each repository once (by stored URL), in first-seen order."""
    seen: dict[str, Target] = {}
    for target in targets:
        seen.setdefault(target.url, target)
    return list(seen.values())


class PlatformLister:
    """Lists repositories through a REST API: follows pagination, honours rate-limit headers
    (Retry-After, X-RateLimit-Remaining/Reset, RateLimit-Remaining/Reset), retries 5xx a few times."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        max_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client or httpx.Client(timeout=30.0, follow_redirects=True)
        self.max_wait = max_wait
        self.sleep = sleep

    def pages(self, url: str, headers: dict[str, str], what: str) -> Iterator[list[dict[str, Any]]]:
        next_url: str | None = url
        while next_url is not None:
            response = self._get(next_url, headers, what)
            body = response.json()
            if not isinstance(body, list):
                raise ListingError(
                    f"{what}: unexpected reply (not a list) from {strip_credentials(next_url)}"
                )
            yield [item for item in body if isinstance(item, dict)]
            next_url = _next_page(response)
            self._pause_if_exhausted(response)

    def _get(self, url: str, headers: dict[str, str], what: str) -> httpx.Response:
        problem = ""
        for _attempt in range(MAX_ATTEMPTS):
            try:
                response = self.client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                self.sleep(1.0)
                continue
            if response.status_code == 200:
                return response
            wait = _rate_limit_wait(response)
            if wait is not None:
                if wait > self.max_wait:
                    raise ListingError(
                        f"{what}: rate limited for {wait:.0f}s (more than {self.max_wait:.0f}s)"
                    )
                self.sleep(wait)
                problem = f"HTTP {response.status_code} (rate limited)"
                continue
            if response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                self.sleep(1.0)
                continue
            message = _error_message(response)
            raise ListingError(f"{what}: HTTP {response.status_code}{': ' + message if message else ''}")
        raise ListingError(f"{what}: gave up after {MAX_ATTEMPTS} attempts ({problem})")

    def _pause_if_exhausted(self, response: httpx.Response) -> None:
        headers = response.headers
        remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
        if remaining == "0":
            wait = _reset_wait(headers)
            if wait:
                self.sleep(min(wait, self.max_wait))

    def github(
        self, org: str, *, base_url: str, token: str | None, forks: bool, archived: bool
    ) -> list[Target]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{base_url.rstrip('/')}/orgs/{quote(org, safe='')}/repos?per_page={PER_PAGE}&type=all"
        targets = []
        for page in self.pages(url, headers, f"GitHub organisation {org!r}"):
            for repo in page:
                if (repo.get("fork") and not forks) or (repo.get("archived") and not archived):
                    continue
                clone = str(repo.get("clone_url") or "")
                if clone:
                    name = str(repo.get("full_name") or clone)
                    targets.append(Target(name, strip_credentials(clone), clone, False, "GITHUB_TOKEN"))
        return targets

    def gitlab(
        self, group: str, *, base_url: str, token: str | None, forks: bool, archived: bool
    ) -> list[Target]:
        headers = {"PRIVATE-TOKEN": token} if token else {}
        url = (
            f"{base_url.rstrip('/')}/api/v4/groups/{quote(group, safe='')}/projects"
            f"?per_page={PER_PAGE}&include_subgroups=true&order_by=id&sort=asc"
        )
        if not archived:
            url += "&archived=false"
        targets = []
        for page in self.pages(url, headers, f"GitLab group {group!r}"):
            for repo in page:
                if (repo.get("forked_from_project") and not forks) or (repo.get("archived") and not archived):
                    continue
                clone = str(repo.get("http_url_to_repo") or "")
                if clone:
                    name = str(repo.get("path_with_namespace") or clone)
                    targets.append(Target(name, strip_credentials(clone), clone, False, "GITLAB_TOKEN"))
        return targets


def _next_page(response: httpx.Response) -> str | None:
    found = _NEXT.search(response.headers.get("link", ""))
    if found:
        return found.group(1)
    following = response.headers.get("x-next-page", "").strip()
    if following:
        return str(response.url.copy_set_param("page", following))
    return None


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before retrying a rate-limited reply, or None when it isn't one."""
    headers = response.headers
    if response.status_code not in (403, 429):
        return None
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 60.0
    remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
    if remaining == "0":
        return _reset_wait(headers) or 1.0
    return 60.0 if response.status_code == 429 else None


def _reset_wait(headers: httpx.Headers) -> float:
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    try:
        return max(0.0, float(reset) - time.time()) if reset else 0.0
    except ValueError:
        return 0.0


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else ""


def collect_targets(
    texts: list[str],
    repo_files: list[Path],
    github_orgs: list[str],
    gitlab_groups: list[str],
    *,
    github_url: str,
    gitlab_url: str,
    github_token: str | None,
    gitlab_token: str | None,
    forks: bool,
    archived: bool,
    lister: PlatformLister | None = None,
) -> list[Target]:
    """Every target named on the command line, in lists, and in the organisations and groups."""
    entries = list(texts)
    for file in repo_files:
        entries.extend(load_repos_file(file))
    targets = [target for entry in entries for target in parse_target(entry)]
    if github_orgs or gitlab_groups:
        lister = lister or PlatformLister()
        for org in github_orgs:
            targets += lister.github(
                org, base_url=github_url, token=github_token, forks=forks, archived=archived
            )
        for group in gitlab_groups:
            targets += lister.gitlab(
                group, base_url=gitlab_url, token=gitlab_token, forks=forks, archived=archived
            )
    return dedupe(targets)
