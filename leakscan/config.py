"""Per-repository configuration: ``[tool.leakscan]`` in pyproject.toml, or ``.leakscan.toml``.

The file is found by walking up from the scanned path to the repository root (the folder holding
``.git``); outside a repository only the scanned folder itself is looked at. ``--config FILE``
names one explicitly. Keys are checked as written: an unknown key, a wrong type, a bad pattern or
a bad hash is a ConfigError naming the file and the key. Relative paths resolve against the
folder of the file. Command-line options override what the file says (the CLI decides that).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from msgspec import Struct

from leakscan.errors import ConfigError, UsageError
from leakscan.models import REPORT_FORMATS as FORMATS
from leakscan.options import MAX_DECODE_DEPTH, check_base_url, check_size_limit, parse_size
from leakscan.paths import find_repo_root
from leakscan.sources.ignore import PatternError, parse_line

CONFIG_FILE = ".leakscan.toml"
PYPROJECT = "pyproject.toml"
KEYS = (
    "rules",
    "disable_rules",
    "exclude",
    "allow_secrets",
    "baseline",
    "format",
    "max_file_size",
    "decode_depth",
    "fail_on",
    "sonar_urls",
    "cloud_urls",
)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class Config(Struct, frozen=True):
    """What a configuration file says; None means the key is not set."""

    source: Path | None = None
    rules: tuple[Path, ...] | None = None
    disable_rules: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    allow_secrets: frozenset[str] | None = None
    baseline: Path | None = None
    format: str | None = None
    max_file_size: int | None = None
    decode_depth: int | None = None
    fail_on: str | None = None
    sonar_urls: tuple[str, ...] | None = None
    cloud_urls: tuple[str, ...] | None = None


def find_config(start: Path) -> Path | None:
    """The nearest `.leakscan.toml`, or pyproject.toml with [tool.leakscan], from ``start`` up.

    In each folder `.leakscan.toml` wins over pyproject.toml. The walk stops at the repository
    root; outside a repository only the starting folder is looked at.
    """
    try:
        start = start.resolve()
    except (RuntimeError, OSError):  # a symlink loop: the scan reports it; look from where it is
        start = Path(os.path.abspath(start))
    folder = start if start.is_dir() else start.parent
    root = find_repo_root(folder)
    depth = 0 if root is None else len(folder.parts) - len(root.parts)
    folders = [folder, *folder.parents][: depth + 1]
    for candidate in folders:
        dedicated = candidate / CONFIG_FILE
        if dedicated.is_file():
            return dedicated
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and _has_tool_section(pyproject):
            return pyproject
    return None


def _has_tool_section(pyproject: Path) -> bool:
    return "leakscan" in _tool_table(_read_toml(pyproject), pyproject)


def _tool_table(data: dict[str, Any], pyproject: Path) -> dict[str, Any]:
    """The ``[tool]`` table of a pyproject.toml (empty if absent); an error if it isn't a table."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: key 'tool': must be a table ([tool]), not {_kind(tool)}")
    return tool


def _kind(value: Any) -> str:
    """A TOML value's kind, for messages (never the value itself)."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), "a date or time")


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # ~2 ms to import: only when there is a configuration file

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 (byte {exc.start})") from exc


def load_config(path: Path) -> Config:
    """Read one configuration file (`[tool.leakscan]` if it is a pyproject.toml)."""
    data = _read_toml(path)
    if path.name == PYPROJECT:
        table = _tool_table(data, path).get("leakscan")
        if table is None:
            raise ConfigError(f"{path}: no [tool.leakscan] table")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: key 'tool.leakscan': must be a table, not {_kind(table)}")
        data = table
    return parse_config(data, path)


def discover_config(explicit: Path | None, start: Path) -> Config:
    """The explicit file, else the one found from ``start``, else an empty Config."""
    path = explicit if explicit is not None else find_config(start)
    return load_config(path) if path is not None else Config()


def hosts_from_config(
    config: Config, start: Path, explicit: bool, key: str, overridden: bool
) -> tuple[str, ...] | None:
    """``config``'s validation hosts under ``key`` (cloud_urls/sonar_urls), if it may name them.

    Hosts come only from the user: a file named with --config, or the one at the repository root
    of the first scanned path. A configuration found elsewhere (a subfolder, a folder outside any
    repository: scanned content) may not redirect where tokens go: a ConfigError, unless the
    command line or the environment (``overridden``) names the hosts anyway.
    """
    urls: tuple[str, ...] | None = getattr(config, key) or None
    if urls is None or explicit or overridden or config.source is None:
        return urls
    start = start.resolve()
    root = find_repo_root(start if start.is_dir() else start.parent)
    if root is not None and config.source.resolve().parent == root:
        return urls
    option = "--cloud-url" if key == "cloud_urls" else "--sonar-url"
    raise ConfigError(
        f"{config_location(config.source)}: key '{key}': validation hosts are not taken from a "
        "configuration inside scanned content (only from --config FILE or the repository root's); "
        f"pass {option} or LEAKSCAN_{key[:-1].upper()}, or name the file with --config"
    )


def parse_config(data: dict[str, Any], source: Path) -> Config:
    """Check every key of a configuration table; raise ConfigError listing every problem."""
    where = config_location(source)
    base = source.parent
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key in sorted(set(data) - set(KEYS)):
        import difflib  # only on this error path: keeps start-up lean

        hint = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.5)
        problems.append(f"unknown key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    for key in KEYS:
        if key not in data:
            continue
        try:
            values[key] = _CHECKS[key](data[key], base)
        except _KeyProblem as exc:
            problems.append(f"key '{key}': {exc}")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return Config(source=source, **values)


def config_location(source: Path) -> str:
    """How messages name a configuration: the file, and the table in a pyproject.toml."""
    return f"{source}: [tool.leakscan]" if source.name == PYPROJECT else str(source)


class _KeyProblem(Exception):
    """What is wrong with one key's value (turned into a ConfigError naming file and key)."""


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _KeyProblem("expected a list of strings")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _KeyProblem("expected a string")
    return value


def _check_rules(value: Any, base: Path) -> tuple[Path, ...]:
    paths = tuple(base / p for p in _strings(value))
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise _KeyProblem(f"no such rule file or folder: {', '.join(missing)}")
    return paths


def _check_disable_rules(value: Any, base: Path) -> tuple[str, ...]:
    return tuple(_strings(value))


def _check_exclude(value: Any, base: Path) -> tuple[str, ...]:
    patterns = _strings(value)
    for pattern in patterns:
        try:
            parsed = parse_line(pattern)
        except PatternError as exc:
            raise _KeyProblem(f"bad pattern {pattern!r}: {exc}") from exc
        if parsed is None:
            raise _KeyProblem(f"bad pattern {pattern!r}: matches nothing (empty, comment, invalid)")
    return tuple(patterns)


def _check_allow_secrets(value: Any, base: Path) -> frozenset[str]:
    hashes = _strings(value)
    bad = [h for h in hashes if not _SHA256.match(h)]
    if bad:
        raise _KeyProblem(f"not a SHA-256 hex digest (64 hex characters): {bad[0]!r}")
    return frozenset(h.lower() for h in hashes)


def _check_baseline(value: Any, base: Path) -> Path:
    return base / _string(value)


def _check_format(value: Any, base: Path) -> str:
    name = _string(value)
    if name not in FORMATS:
        raise _KeyProblem(f"{name!r} is not one of {', '.join(FORMATS)}")
    return name


def _check_max_file_size(value: Any, base: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return check_size_limit(value, value)
        except UsageError as exc:
            raise _KeyProblem(str(exc)) from exc
    if isinstance(value, str):
        try:
            return check_size_limit(parse_size(value), value)
        except UsageError as exc:
            raise _KeyProblem(str(exc)) from exc
    raise _KeyProblem("expected a byte count or a size string such as '10MiB'")


def _check_decode_depth(value: Any, base: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DECODE_DEPTH:
        raise _KeyProblem(f"expected a whole number from 0 (off) to {MAX_DECODE_DEPTH}")
    return value


def _check_fail_on(value: Any, base: Path) -> str:
    from leakscan.policy import parse_fail_on

    try:
        return str(parse_fail_on(_string(value)))
    except UsageError as exc:
        raise _KeyProblem(str(exc).replace("invalid --fail-on", "invalid value")) from exc


def _check_urls(value: Any, base: Path) -> tuple[str, ...]:
    """The same check as for --sonar-url/--cloud-url: https, or http only on loopback; no user
    info, query or fragment (a password is never repeated in the message)."""
    try:
        return tuple(check_base_url(url) for url in _strings(value))
    except UsageError as exc:
        raise _KeyProblem(str(exc)) from exc


_CHECKS = {
    "rules": _check_rules,
    "disable_rules": _check_disable_rules,
    "exclude": _check_exclude,
    "allow_secrets": _check_allow_secrets,
    "baseline": _check_baseline,
    "format": _check_format,
    "max_file_size": _check_max_file_size,
    "decode_depth": _check_decode_depth,
    "fail_on": _check_fail_on,
    "sonar_urls": _check_urls,
    "cloud_urls": _check_urls,
}
