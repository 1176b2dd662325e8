"""Where a path sits: the repository that holds it (used by config lookup and the file walker)."""

from __future__ import annotations

from pathlib import Path


def find_repo_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that holds a ``.git`` entry."""
    current = path if path.is_dir() else path.parent
    for folder in (current, *current.parents):
        if (folder / ".git").exists():
            return folder
    return None
