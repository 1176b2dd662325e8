"""Settings of a run: the configuration file (found and parsed by ``config``) merged with what
the caller sets, the caller winning. Usable from Python without click: build ``Overrides`` with
what was given (None = not given) and call ``resolve``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from msgspec import Struct

from leakscan.config import Config, config_location, discover_config, hosts_from_config
from leakscan.errors import ConfigError, UsageError
from leakscan.options import (
    CLOUD_URLS,
    DEFAULT_DECODE_DEPTH,
    DEFAULT_MAX_FILE_SIZE,
    HistoryOptions,
    ScanOptions,
    ValidationConfig,
    parse_size,
)

if TYPE_CHECKING:
    from leakscan.models import ScanResult

__all__ = [
    "Config",
    "HistoryOptions",
    "Overrides",
    "ScanOptions",
    "Settings",
    "ValidationConfig",
    "parse_size",
    "resolve",
    "resolve_rules",
    "resolve_validation",
]

V = TypeVar("V")


class Overrides(Struct, frozen=True):
    """What the caller sets. ``None`` means not given: the configuration file decides, else the
    default. ``validate`` None: this kind of run never validates (whatever ``fail_on`` says);
    ``read_baseline`` False: the configured baseline is not read (``baseline create`` writes it).
    ``since_commit`` (history): without ``config_file``, the configuration is read as committed
    at that revision, so the range under review can't configure its own scan."""

    config_file: Path | None = None
    no_config: bool = False  # ignore discovered configuration files (auditing someone else's repo)
    since_commit: str | None = None
    fmt: str | None = None
    fail_on: str | None = None
    extra_rules: tuple[Path, ...] | None = None
    disable_rules: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    max_file_size: int | None = None
    decode_depth: int | None = None
    baseline_file: Path | None = None
    read_baseline: bool = True
    use_ignore_files: bool = True
    scan_large_files: bool = False
    workers: int = 0
    validate: bool | None = None
    cloud_urls: tuple[str, ...] | None = None
    sonar_urls: tuple[str, ...] | None = None
    ca_bundle: Path | None = None
    validate_timeout: float = 10.0
    validate_rate: float = 5.0
    validate_max_requests: int = 500
    validate_deadline: float = 120.0
    # Whether the hosts were given by the caller (a configured host is trusted only then, or from
    # an explicit configuration file: see ``config.hosts_from_config``).
    cloud_urls_given: bool = False
    sonar_urls_given: bool = False


class Settings(Struct, frozen=True):
    """A run's options merged with the configuration file."""

    options: ScanOptions
    config: Config
    fmt: str
    fail_on: str
    notes: tuple[str, ...] = ()  # for the report: configuration changes the range makes


def _pick(given: V | None, configured: V | None, default: V) -> V:
    if given is not None:
        return given
    return configured if configured is not None else default


def resolve(
    paths: Sequence[str] = (),
    overrides: Overrides = Overrides(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Settings:
    """Find and read the configuration file (``overrides.config_file``, else the one for the
    first path), then let ``overrides`` win. ``progress`` reports validation progress."""
    from leakscan.baseline import load_baseline

    targets = tuple(paths) or (".",)
    start = next((Path(p) for p in targets if p != "-"), Path.cwd())
    notes: tuple[str, ...] = ()
    if overrides.no_config and overrides.config_file is None:
        config = Config()
    elif overrides.since_commit and overrides.config_file is None:
        from leakscan.trusted import config_at_base

        base = config_at_base(str(start), overrides.since_commit)
        config, notes = base.config, base.notes
    else:
        config = discover_config(overrides.config_file, start)
    fail_on = _pick(overrides.fail_on, config.fail_on, "any")
    extra_rules, disable_rules = resolve_rules(overrides, config)
    baseline_file = _pick(overrides.baseline_file, config.baseline, None) if overrides.read_baseline else None
    options = ScanOptions(
        paths=targets,
        extra_rules=extra_rules,
        disable_rules=disable_rules,
        exclude=_pick(overrides.exclude, config.exclude, ()),
        use_ignore_files=overrides.use_ignore_files,
        max_file_size=_pick(overrides.max_file_size, config.max_file_size, DEFAULT_MAX_FILE_SIZE),
        scan_large_files=overrides.scan_large_files,
        decode_depth=_pick(overrides.decode_depth, config.decode_depth, DEFAULT_DECODE_DEPTH),
        allow_secrets=config.allow_secrets or frozenset(),
        workers=overrides.workers,
        validation=resolve_validation(overrides, config, fail_on, start, progress),
        baseline=load_baseline(baseline_file) if baseline_file is not None else None,
    )
    if overrides.config_file is None and config.source is not None:
        notes = (config_note(config, overrides), *notes)
    return Settings(options, config, _pick(overrides.fmt, config.format, "text"), fail_on, notes)


def config_note(config: Config, overrides: Overrides) -> str:
    """The note naming a discovered configuration file and the settings it applies that reduce
    coverage (those the caller did not override)."""
    applied: list[str] = []
    if config.exclude and overrides.exclude is None:
        applied.append(f"exclude: {len(config.exclude)} pattern(s)")
    if config.disable_rules and overrides.disable_rules is None:
        applied.append("disable_rules: " + ", ".join(config.disable_rules))
    if config.allow_secrets:
        applied.append(f"allow_secrets: {len(config.allow_secrets)} hash(es)")
    if config.max_file_size is not None and overrides.max_file_size is None:
        applied.append(f"max_file_size = {config.max_file_size}")
    if config.decode_depth is not None and overrides.decode_depth is None:
        applied.append(f"decode_depth = {config.decode_depth}")
    if config.fail_on is not None and overrides.fail_on is None:
        applied.append(f'fail_on = "{config.fail_on}"')
    if config.baseline is not None and overrides.baseline_file is None and overrides.read_baseline:
        applied.append(f"baseline = {config.baseline}")
    assert config.source is not None
    detail = f" ({'; '.join(applied)})" if applied else ""
    return f"configuration: {config_location(config.source)}{detail} (--no-config ignores it)"


def resolve_rules(overrides: Overrides, config: Config) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """Extra rule files and disabled rule ids. Every id to disable must exist; the error names
    where it came from: the override (``--disable-rule``), or the configuration file and key."""
    from leakscan.rules import load_rules

    extra_rules = _pick(overrides.extra_rules, config.rules, ())
    disable_rules = _pick(overrides.disable_rules, config.disable_rules, ())
    if disable_rules:
        known = {rule.id for rule in load_rules(extra_rules)}
        unknown = ", ".join(sorted(set(disable_rules) - known))
        if unknown and overrides.disable_rules is not None:
            raise UsageError(f"--disable-rule: unknown rule id(s): {unknown} (see `leakscan rules list`)")
        if unknown:
            assert config.source is not None
            raise ConfigError(
                f"{config_location(config.source)}: key 'disable_rules': unknown rule id(s): {unknown}"
            )
    return extra_rules, disable_rules


def resolve_validation(
    overrides: Overrides,
    config: Config,
    fail_on: str,
    start: Path,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationConfig | None:
    """The live-check settings when this run validates (asked for, or ``fail_on`` needs it).
    Configured hosts count only where the configuration is trusted (``hosts_from_config``)."""
    from leakscan.policy import parse_fail_on

    if overrides.validate is None or not (overrides.validate or parse_fail_on(fail_on).needs_validation):
        return None
    explicit_file = overrides.config_file is not None
    cloud = hosts_from_config(config, start, explicit_file, "cloud_urls", overrides.cloud_urls_given)
    sonar = hosts_from_config(config, start, explicit_file, "sonar_urls", overrides.sonar_urls_given)
    return ValidationConfig(
        cloud_urls=_pick(overrides.cloud_urls, tuple(cloud or ()) or None, CLOUD_URLS),
        sonar_urls=_pick(overrides.sonar_urls, tuple(sonar or ()) or None, ()),
        ca_bundle=overrides.ca_bundle,
        timeout=overrides.validate_timeout,
        rate=overrides.validate_rate,
        max_requests=overrides.validate_max_requests,
        deadline=overrides.validate_deadline,
        progress=progress,
    )


def excluded_everything_note(result: ScanResult, options: ScanOptions, history: bool) -> str | None:
    """A note when exclude patterns left nothing scanned although there was something to scan
    (files under the scanned paths; for history, files in HEAD's tree)."""
    stats = result.stats
    if not options.exclude or stats.files_scanned or result.skipped or result.errors:
        return None
    if history:
        from leakscan.sources.git import head_commit, load_tree, open_repo, tree_id

        repo = open_repo(options.paths[0])
        head = head_commit(repo)
        root = tree_id(repo, head) if head is not None else None
        tree = load_tree(repo, root) if root is not None else None
        existed = tree is not None and len(tree) > 0
    else:
        existed = any(_has_file(Path(p)) for p in options.paths if p != "-")
    if not existed:
        return None
    return f"nothing scanned: the exclude pattern(s) ({len(options.exclude)}) matched every input"


def _has_file(path: Path) -> bool:
    if path.is_file():
        return True
    for _folder, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        if files:
            return True
    return False
