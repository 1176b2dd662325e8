"""Command line: flags → ScanOptions → scan() → reporter → exit code. Nothing else lives here."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

import click

from leakscan import __version__
from leakscan.errors import ExitCode, LeakscanError

if TYPE_CHECKING:
    from leakscan.history import Progress
    from leakscan.models import Finding, ScanResult
    from leakscan.options import ScanOptions, ValidationConfig

FORMAT_NAMES = ("text", "json")
FAIL_ON_NAMES = ("any", "live", "none")
PROGRESS_MIN_TOKENS = 5


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from leakscan.errors import UsageError
    from leakscan.options import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from exc


def _use_color(stream: Any) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def emit_report(result: ScanResult, fmt: str, output: Path | None, show_secrets: bool) -> None:
    """Render ``result`` to stdout or ``output``; keep a one-line summary on stderr."""
    from leakscan.report import ReportContext, get_reporter
    from leakscan.report.text_report import render_summary

    color = output is None and _use_color(sys.stdout)
    context = ReportContext(show_secrets=show_secrets, color=color, version=__version__)
    text = get_reporter(fmt)(result, context)
    if output is None:
        try:
            click.echo(text, nl=False)
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_broken_pipe()
    else:
        try:
            output.write_text(text, encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise LeakscanError(f"{output}: cannot write report: {exc.strerror or exc}") from exc
    if fmt != "text" or output is not None:
        click.echo(render_summary(result), err=True)


def exit_code_for(result: ScanResult, findings_code: int, fail_on: str = "any") -> int:
    """Findings that ``fail_on`` counts win over errors; an incomplete scan is an error.

    ``fail_on``: ``any`` finding, only ``live`` ones (then an unknown outcome, with no live one,
    is an error: the check is incomplete), or ``none``.
    """
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if any(_fails(finding, fail_on) for finding in result.findings):
        return findings_code
    if fail_on == "live" and any(f.validation.status == "unknown" for f in result.findings):
        return ExitCode.ERROR
    if result.errors:
        return ExitCode.ERROR
    return ExitCode.CLEAN


def _fails(finding: Finding, fail_on: str) -> bool:
    if fail_on == "live":
        return finding.validation.status == "live"
    return fail_on == "any"


def progress_printer(stream: TextIO) -> Callable[[int, int], None] | None:
    """Validation progress on a terminal, when more than a handful of tokens are checked."""
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None

    def show(done: int, total: int) -> None:
        if total <= PROGRESS_MIN_TOKENS:
            return
        stream.write(f"\rleakscan: validating {done}/{total} token(s)")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def make_validation_config(
    sonar_urls: tuple[str, ...],
    cloud_urls: tuple[str, ...],
    ca_bundle: Path | None,
    timeout: float,
    rate: float,
) -> ValidationConfig:
    from leakscan.options import CLOUD_URLS, ValidationConfig

    return ValidationConfig(
        cloud_urls=cloud_urls or CLOUD_URLS,
        sonar_urls=sonar_urls,
        ca_bundle=ca_bundle,
        timeout=timeout,
        rate=rate,
        progress=progress_printer(sys.stderr),
    )


_CONNECTION_FLAGS = (
    click.option("--sonar-url", "sonar_urls", multiple=True, metavar="URL",
                 help="SonarQube Server to check server tokens against (repeatable)."),
    click.option("--cloud-url", "cloud_urls", multiple=True, metavar="URL",
                 help="Replaces the SonarQube Cloud hosts sonarcloud.io and sonarqube.us "
                      "(repeatable)."),
    click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Trust the CA certificates in this PEM file (default: SSL_CERT_FILE, "
                      "else certifi)."),
    click.option("--validate-timeout", type=click.FloatRange(0, min_open=True), default=10.0,
                 show_default=True, help="Seconds to wait for connecting and for each read."),
    click.option("--validate-rate", type=click.FloatRange(0, min_open=True), default=5.0,
                 show_default=True, help="At most this many requests per second, in all."),
)
_VALIDATION_FLAGS = (
    click.option("--validate", is_flag=True,
                 help="Ask the SonarQube API whether each token is live (network)."),
    *_CONNECTION_FLAGS,
    click.option("--fail-on", type=click.Choice(FAIL_ON_NAMES), default="any", show_default=True,
                 help="Which findings make the exit code 1; 'live' implies --validate."),
)


def _apply(flags: Sequence[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Apply click option decorators in the order listed."""

    def decorate(command: Any) -> Any:
        for flag in reversed(flags):
            command = flag(command)
        return command

    return decorate


class ValidationArgs(NamedTuple):
    """The validation flags of one command, gathered by ``validation_options``.

    A NamedTuple, not a dataclass: importing dataclasses would slow every command's start-up.
    """

    config: ValidationConfig | None
    fail_on: str


def validation_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the live-validation flags to a command (``scan``, ``history``).

    The command gets them as one keyword argument, ``validation_args`` (ValidationArgs): pass
    ``validation_args.config`` as ``ScanOptions(validation=...)`` (None: validation off) and
    ``validation_args.fail_on`` to ``exit_code_for``.
    """

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        validate: bool,
        sonar_urls: tuple[str, ...],
        cloud_urls: tuple[str, ...],
        ca_bundle: Path | None,
        validate_timeout: float,
        validate_rate: float,
        fail_on: str,
        **kwargs: Any,
    ) -> None:
        config = None
        if validate or fail_on == "live":
            config = make_validation_config(
                sonar_urls, cloud_urls, ca_bundle, validate_timeout, validate_rate
            )
        command(*args, validation_args=ValidationArgs(config, fail_on), **kwargs)

    decorated: Callable[..., None] = _apply(_VALIDATION_FLAGS)(wrapper)
    return decorated


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscan")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find leaked SonarQube tokens in files, staged changes and git history."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--show-secrets", is_flag=True, help="Print secrets whole (redacted by default).")
@click.option("--rules", "extra_rules", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Extra rule file or folder (repeatable).")
@click.option("--no-ignore", is_flag=True, help="Ignore .gitignore/.leakscanignore: scan everything.")
@click.option("--max-file-size", callback=_size, default="50MiB", show_default=True,
              help="Skip larger files (bytes, or 10MB / 10MiB).")
@click.option("--large-files", type=click.Choice(["skip", "scan"]), default="skip", show_default=True,
              help="Files over --max-file-size: skip (and report), or stream them in chunks.")
@click.option("--exit-code", "findings_code", type=click.IntRange(0, 255), default=1, show_default=True,
              help="Exit code when there are findings.")
@click.option("--workers", type=click.IntRange(0, 256), default=0, show_default=True,
              help="Worker processes for large scans (0 = one per core).")
@click.option("--staged", is_flag=True,
              help="Scan the staged changes (git index) of the repository containing PATH.")
@click.option("--whole-files", is_flag=True,
              help="With --staged: scan staged files whole, not only the changed lines.")
@validation_options
def scan(
    paths: tuple[str, ...],
    fmt: str,
    output: Path | None,
    show_secrets: bool,
    extra_rules: tuple[Path, ...],
    no_ignore: bool,
    max_file_size: int,
    large_files: str,
    findings_code: int,
    workers: int,
    staged: bool,
    whole_files: bool,
    validation_args: ValidationArgs,
) -> None:
    """Scan files and folders (default '.'); '-' reads standard input."""
    from leakscan.options import ScanOptions
    from leakscan.scan import scan as run_scan

    options = ScanOptions(
        paths=paths or (".",),
        extra_rules=extra_rules,
        use_ignore_files=not no_ignore,
        max_file_size=max_file_size,
        scan_large_files=large_files == "scan",
        workers=workers,
        validation=validation_args.config,
    )
    if staged or whole_files:
        result = _scan_staged(options, paths, staged, whole_files)
    else:
        result = run_scan(options)
    emit_report(result, fmt, output, show_secrets)
    if staged and result.findings:
        from leakscan.staged import fix_hint

        click.echo(fix_hint(result), err=True)
    raise SystemExit(exit_code_for(result, findings_code, validation_args.fail_on))


def _scan_staged(
    options: ScanOptions, paths: tuple[str, ...], staged: bool, whole_files: bool
) -> ScanResult:
    from leakscan.staged import scan_staged

    if not staged:
        raise click.UsageError("--whole-files only applies with --staged")
    if len(paths) > 1 or "-" in paths:
        raise click.UsageError("--staged takes at most one PATH: a folder inside the repository")
    return scan_staged(options, paths[0] if paths else ".", whole_files=whole_files)


@cli.command()
@click.argument("repo", default=".", type=click.Path(path_type=str))
@click.option("--branch", "branches", multiple=True, metavar="NAME",
              help="Scan only what this branch, tag or commit reaches (repeatable).")
@click.option("--since-commit", metavar="REV",
              help="Scan only commits not reachable from REV (e.g. origin/main).")
@click.option("--max-commits", type=click.IntRange(1), metavar="N",
              help="Scan at most the newest N commits.")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True,
              help="Processes scanning blobs; 0 = automatic (2 on a large history).")
@click.option("--no-progress", is_flag=True,
              help="No progress bar (there is none when stderr is not a terminal).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here.")
@click.option("--show-secrets", is_flag=True, help="Print secrets whole (redacted by default).")
@click.option("--rules", "extra_rules", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Extra rule file or folder (repeatable).")
@click.option("--max-file-size", callback=_size, default="50MiB", show_default=True,
              help="Skip larger blobs (bytes, or 10MB / 10MiB).")
@click.option("--exit-code", "findings_code", type=click.IntRange(0, 255), default=1,
              show_default=True, help="Exit code when there are findings.")
@validation_options
def history(
    repo: str,
    branches: tuple[str, ...],
    since_commit: str | None,
    max_commits: int | None,
    workers: int,
    no_progress: bool,
    fmt: str,
    output: Path | None,
    show_secrets: bool,
    extra_rules: tuple[Path, ...],
    max_file_size: int,
    findings_code: int,
    validation_args: ValidationArgs,
) -> None:
    """Scan every commit reachable from the repository's refs (default: all branches, remote
    branches, tags and stashes); each unique blob is scanned once."""
    from leakscan.history import HistoryOptions, scan_history
    from leakscan.options import ScanOptions

    options = ScanOptions(
        paths=(repo,),
        extra_rules=extra_rules,
        max_file_size=max_file_size,
        validation=validation_args.config,
    )
    wanted = HistoryOptions(
        repo=repo,
        branches=branches,
        since_commit=since_commit,
        max_commits=max_commits,
        workers=workers,
    )
    bar = None if no_progress or not sys.stderr.isatty() else _ProgressBar()
    try:
        result = scan_history(options, wanted, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    emit_report(result, fmt, output, show_secrets)
    raise SystemExit(exit_code_for(result, findings_code, validation_args.fail_on))


@cli.command("validate")
@click.argument("tokens", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text", show_default=True)
@click.option("--rules", "extra_rules", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Extra rule file or folder (repeatable).")
@_apply(_CONNECTION_FLAGS)
def validate_command(
    tokens: tuple[str, ...],
    fmt: str,
    extra_rules: tuple[Path, ...],
    sonar_urls: tuple[str, ...],
    cloud_urls: tuple[str, ...],
    ca_bundle: Path | None,
    validate_timeout: float,
    validate_rate: float,
) -> None:
    """Check whether tokens are live. TOKEN arguments, or '-' to read one per line from stdin.

    Exit 1 if any token is live; 0 if none is live and all were checked; 2 if any is unknown,
    not checked or not a recognised token (and none is live).
    """
    import json

    from leakscan.check import check_tokens
    from leakscan.errors import UsageError
    from leakscan.models import Liveness
    from leakscan.rules import load_rules

    given: list[str] = []
    for token in tokens:
        if token == "-":
            lines = sys.stdin.read().splitlines()
            given.extend(line.strip() for line in lines if line.strip())
        else:
            given.append(token.strip())
    if not given:
        raise UsageError("validate: no token given (pass TOKEN arguments, or '-' to read stdin)")
    config = make_validation_config(
        sonar_urls, cloud_urls, ca_bundle, validate_timeout, validate_rate
    )
    checks = check_tokens(given, load_rules(extra_rules), config)
    if fmt == "json":
        results = [
            {
                "secret": check.secret.redacted(),
                "secret_sha256": check.secret.sha256,
                "rule_id": check.rule.id if check.rule else None,
                "status": check.validation.status.value,
                "host": check.validation.host,
                "checked_at": check.validation.checked_at,
                "reason": check.validation.reason,
            }
            for check in checks
        ]
        report = {"tool": {"name": "leakscan", "version": __version__}, "results": results}
        click.echo(json.dumps(report, indent=2))
    else:
        for check in checks:
            outcome = check.validation
            rule = check.rule.id if check.rule else "-"
            host = f" [{outcome.host}]" if outcome.host else ""
            click.echo(f"{check.secret.redacted()}  {outcome.status.value:<11} {rule}  "
                       f"{outcome.reason}{host}")
    statuses = {check.validation.status for check in checks}
    if Liveness.LIVE in statuses:
        raise SystemExit(ExitCode.FINDINGS)
    raise SystemExit(ExitCode.CLEAN if statuses == {Liveness.INACTIVE} else ExitCode.ERROR)


class _ProgressBar:
    """Blobs done / total, bytes and rate on one stderr line, redrawn at most ten times a second."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._started = self._clock()
        self._drawn = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        from leakscan.report.text_report import human_size

        now = self._clock()
        if now - self._drawn < 0.1 and progress.blobs_done < progress.blobs_total:
            return
        self._drawn = now
        rate = progress.bytes_done / max(now - self._started, 1e-6)
        total = max(progress.blobs_total, 1)
        filled = int(24 * progress.blobs_done / total)
        line = (
            f"\r[{'#' * filled}{'.' * (24 - filled)}] "
            f"{progress.blobs_done}/{progress.blobs_total} blobs, "
            f"{human_size(progress.bytes_done)}, {human_size(rate)}/s"
        )
        click.echo(line, err=True, nl=False)
        self._shown = True

    def close(self) -> None:
        if self._shown:
            click.echo("\r\033[K", err=True, nl=False)


@cli.command("install-hook")
@click.argument("repo", default=".", type=click.Path(path_type=str))
@click.option("--force", is_flag=True, help="Replace an existing pre-commit hook.")
def install_hook(repo: str, force: bool) -> None:
    """Write a git pre-commit hook that runs `leakscan scan --staged` (no framework needed)."""
    from leakscan.hook import install_hook as write_hook

    target = write_hook(repo, sys.executable, force=force)
    click.echo(f"leakscan: installed {target}")


@cli.group()
def rules() -> None:
    """List rules, or check rule files against their examples."""


@rules.command("list")
@click.option("--rules", "extra_rules", multiple=True, type=click.Path(exists=True, path_type=Path))
def rules_list(extra_rules: tuple[Path, ...]) -> None:
    """Show the loaded rules."""
    from leakscan.rules import load_rules

    for rule in load_rules(extra_rules):
        key = rule.key or "-"
        click.echo(f"{rule.id:<40} {key:<6} {rule.severity.value:<8} {rule.name}  ({rule.source})")


@rules.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
def rules_check(files: tuple[Path, ...]) -> None:
    """Check rule files (default: the built-in ones) and run every example."""
    from leakscan.examples import example_problems
    from leakscan.rules import load_rules

    loaded = load_rules(files, builtin=not files, check_examples=False)
    failures = example_problems(loaded)
    for problem in failures:
        click.echo(f"FAIL {problem}")
    total = sum(len(r.examples) + len(r.negative_examples) for r in loaded)
    click.echo(f"{len(loaded)} rule(s), {total} example(s), {len(failures)} failure(s)")
    raise SystemExit(ExitCode.ERROR if failures else ExitCode.CLEAN)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; turn every error into one stderr line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="leakscan", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Abort:
        click.echo("leakscan: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.ERROR
    except LeakscanError as exc:
        if debug:
            raise
        for line in getattr(exc, "problems", None) or [str(exc)]:
            click.echo(f"Error: {line}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("leakscan: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (re-run with --debug)", err=True)
        return ExitCode.ERROR
    return ExitCode.CLEAN


def _silence_broken_pipe() -> None:
    """The reader went away (e.g. `| head`): don't let the interpreter complain at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
