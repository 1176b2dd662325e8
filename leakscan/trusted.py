"""The trust boundary of `history --since-commit REV`: configuration is read as committed at REV.

The commits after REV are the change under review; configuration they add or edit (an
`exclude = ["*"]`, `fail_on = "none"`) must not decide how that change is scanned. So the
configuration files are read from REV's tree, and every configuration or ignore file the range
changes is named in a note of the report.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from msgspec import Struct

from leakscan.config import CONFIG_FILE, PYPROJECT, Config, parse_config
from leakscan.errors import ConfigError

IGNORE_FILE = ".leakscanignore"
MAX_CONFIG_BYTES = 1024 * 1024


class BaseConfig(Struct, frozen=True):
    """The configuration at the base revision, and notes on what the range changes."""

    config: Config
    notes: tuple[str, ...]


def config_at_base(start: str, rev: str) -> BaseConfig:
    """The `.leakscan.toml` or `[tool.leakscan]` that would be found from ``start`` (folder by
    folder up to the repository root), read from commit ``rev``; and a note for each of
    `.leakscan.toml`, `pyproject.toml` `[tool.leakscan]` and `.leakscanignore` in those
    folders that differs between ``rev`` and HEAD."""
    from leakscan.sources.git import head_commit, open_repo, resolve_commit, tree_id

    repo = open_repo(start)
    base_tree = tree_id(repo, resolve_commit(repo, rev, "--since-commit"))
    head = head_commit(repo)
    head_tree = tree_id(repo, head) if head is not None else None
    root = Path(repo.workdir) if repo.workdir else Path(repo.path)
    folders = _folders(root, Path(start))
    config: Config | None = None
    notes: list[str] = []
    for folder in folders:
        for name in (CONFIG_FILE, PYPROJECT, IGNORE_FILE):
            path = folder + name
            at_base = _table(repo, base_tree, path, rev)
            at_head = _table(repo, head_tree, path, "HEAD")
            if config is None and name != IGNORE_FILE and at_base is not None:
                config = parse_config(at_base, root / path)
            if at_base != at_head:
                what = f"{path} [tool.leakscan]" if name == PYPROJECT else path
                notes.append(
                    f"{what} changed since --since-commit {rev}: not used; the configuration "
                    f"as committed at {rev} applies"
                    if name != IGNORE_FILE
                    else f"{what} changed since --since-commit {rev} (history scans do not read ignore files)"
                )
    return BaseConfig(config if config is not None else Config(), tuple(notes))


def _folders(root: Path, start: Path) -> list[str]:
    """Repo-relative folders (``"sub/dir/"`` … ``""``) from ``start`` up to the root."""
    try:
        rel = start.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return [""]
    parts = rel.parts
    return ["".join(p + "/" for p in parts[:depth]) for depth in range(len(parts), -1, -1)]


def _table(repo: Any, tree: Any, path: str, rev: str) -> dict[str, Any] | None:
    """The configuration table in the file at ``path`` of ``tree`` (the whole file, or its
    ``[tool.leakscan]``; for an ignore file, its lines); None when there is none."""
    from leakscan.sources.git import ObjectError, blob_at, read_blob

    oid = blob_at(repo, tree, path) if tree is not None else None
    if oid is None:
        return None
    try:
        data = read_blob(repo, oid, MAX_CONFIG_BYTES)
    except ObjectError as exc:
        raise ConfigError(f"{rev}:{path}: cannot read: {exc}") from exc
    if isinstance(data, int):
        raise ConfigError(f"{rev}:{path}: larger than {MAX_CONFIG_BYTES} bytes")
    text = data.decode("utf-8", errors="replace")
    if path.endswith(IGNORE_FILE):
        return {"lines": text.splitlines()}
    try:
        parsed = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"{rev}:{path}: invalid TOML: {exc}") from exc
    if path.endswith(PYPROJECT):
        tool = parsed.get("tool")
        table = tool.get("leakscan") if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else None
    return parsed
