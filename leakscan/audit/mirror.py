"""The mirror cache: ``git clone --mirror`` once, ``git fetch --prune`` on later audits.

Credentials never reach the cache: a URL's user:password and a platform token (GITHUB_TOKEN,
GITLAB_TOKEN) go to git as an HTTP Authorization header through ``GIT_CONFIG_*`` environment
variables; the mirror's configuration keeps the URL without them; error messages are masked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from leakscan.errors import LeakscanError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MirrorError(LeakscanError):
    """A repository that could not be cloned or fetched."""


def strip_credentials(url: str) -> str:
    """``url`` without user:password (scp-style and local paths are returned as given)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _userinfo(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return parts.netloc.rsplit("@", 1)[0]
    return None


def mirror_path(cache: Path, url: str) -> Path:
    """Where the mirror of ``url`` lives: a readable name plus a hash of the credential-free URL."""
    clean = strip_credentials(url)
    tail = _UNSAFE.sub("-", clean.rstrip("/").rsplit("/", 2)[-1].removesuffix(".git"))[:60] or "repo"
    return cache / f"{tail}-{hashlib.sha256(clean.encode()).hexdigest()[:16]}.git"


def git_env(url: str, token: str | None) -> dict[str, str]:
    """git's environment: no prompts, and the credentials (if any) as an extra HTTP header."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ASKPASS"] = "echo"
    userinfo = _userinfo(url) or (f"x-access-token:{token}" if token else None)
    if userinfo is not None:
        header = base64.b64encode(userinfo.encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {header}",
        )
    return env


def mirror(url: str, cache: Path, *, timeout: float, retries: int, token: str | None = None) -> Path:
    """Clone or update the mirror of ``url``; return its path. Raise MirrorError after ``retries``
    failed retries (each attempt limited to ``timeout`` seconds)."""
    clean = strip_credentials(url)
    dest = mirror_path(cache, url)
    env = git_env(url, token)
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(2.0**attempt, 30.0))
        try:
            if (dest / "HEAD").is_file():
                _git(["git", "-C", str(dest), "fetch", "--prune", "--quiet", "origin"], env, timeout)
            else:
                _clone(clean, dest, env, timeout)
            return dest
        except MirrorError as exc:
            last = str(exc)
    raise MirrorError(f"{clean}: {last}" + (f" (after {retries + 1} attempts)" if retries else ""))


def _clone(clean: str, dest: Path, env: dict[str, str], timeout: float) -> None:
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        _git(["git", "clone", "--mirror", "--quiet", clean, str(partial)], env, timeout)
    except MirrorError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(dest)


def _git(args: list[str], env: dict[str, str], timeout: float) -> None:
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MirrorError(
            f"git {args[-3] if 'clone' in args else 'fetch'} timed out after {timeout:g}s"
        ) from exc
    except OSError as exc:
        raise MirrorError(f"cannot run git: {exc}") from exc
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else f"git exited with {proc.returncode}"
        raise MirrorError(_mask(message))


def _mask(text: str) -> str:
    """Remove user:password from URLs inside ``text``."""
    return re.sub(r"(\w+://)[^/\s@]+@", r"\1", text)
