"""Command line: flags → ScanOptions → scan() → reporter → exit code. Nothing else lives here."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from leakscan import __version__
from leakscan.errors import ExitCode, LeakscanError
from leakscan.report import FORMATS

if TYPE_CHECKING:
    from leakscan.config import Config
    from leakscan.models import ScanResult
    from leakscan.options import ScanOptions

FORMAT_NAMES = FORMATS
DEFAULT_BASELINE = ".leakscan-baseline.json"


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
    context = ReportContext(
        show_secrets=show_secrets,
        color=color,
        version=__version__,
        information_uri=_information_uri() if fmt in ("sarif", "gitlab") else "",
    )
    text = get_reporter(fmt)(result, context)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise LeakscanError(f"{output}: cannot write report: {exc.strerror or exc}") from exc
    if fmt != "text" or output is not None:
        click.echo(render_summary(result), err=True)


def _information_uri() -> str:
    """The project's home page, when the installed package declares one (SARIF and GitLab show
    it). Looked up only for those formats: reading package metadata costs ~20 ms."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("leakscan").get_all("Project-URL") or []
    except PackageNotFoundError:
        return ""
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "documentation", "source"):
            return str(url).strip()
    return ""


def exit_code_for(result: ScanResult, findings_code: int, fail_on: str = "any") -> int:
    """Findings win over errors; an incomplete scan with no findings is an error.

    ``fail_on`` says which findings count: ``any``, only ``live`` ones, or ``none``.
    """
    from leakscan.models import Liveness

    if result.interrupted:
        return ExitCode.INTERRUPTED
    failing = [
        f
        for f in result.findings
        if fail_on == "any" or (fail_on == "live" and f.validation.status is Liveness.LIVE)
    ]
    if failing:
        return findings_code
    if result.errors:
        return ExitCode.ERROR
    return ExitCode.CLEAN


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscan")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find leaked SonarQube tokens in files, staged changes and git history."""
    ctx.obj = {"debug": debug}


def input_options(command: Any) -> Any:
    """Options that choose what is scanned and how (shared by scan and baseline commands)."""
    decorators = [
        click.option("--rules", "extra_rules", multiple=True,
                     type=click.Path(exists=True, path_type=Path),
                     help="Extra rule file or folder (repeatable)."),
        click.option("--disable-rule", "disable_rules", multiple=True, metavar="RULE_ID",
                     help="Turn a rule off (repeatable)."),
        click.option("--exclude", multiple=True, metavar="PATTERN",
                     help="Skip paths matching this gitignore-style pattern (repeatable)."),
        click.option("--no-ignore", is_flag=True,
                     help="Ignore .gitignore/.leakscanignore: scan everything."),
        click.option("--max-file-size", callback=_size, default="50MiB", show_default=True,
                     help="Skip larger files (bytes, or 10MB / 10MiB)."),
        click.option("--config", "config_file",
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Configuration file (default: .leakscan.toml or pyproject.toml "
                     "[tool.leakscan], looked up from the scanned path to the repository root)."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _pick(ctx: click.Context, name: str, configured: Any) -> Any:
    """The command-line value if the user gave one, else the configured one, else the default."""
    source = ctx.get_parameter_source(name)
    explicit = source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return ctx.params[name] if explicit or configured is None else configured


def load_settings(ctx: click.Context, paths: tuple[str, ...]) -> tuple[ScanOptions, Config]:
    """Configuration file + command line (which wins) → ScanOptions, and the Config itself."""
    from leakscan.config import discover_config
    from leakscan.options import ScanOptions

    targets = paths or (".",)
    start = next((Path(p) for p in targets if p != "-"), Path.cwd())
    config = discover_config(ctx.params["config_file"], start)
    options = ScanOptions(
        paths=targets,
        extra_rules=tuple(_pick(ctx, "extra_rules", config.rules)),
        disable_rules=tuple(_pick(ctx, "disable_rules", config.disable_rules)),
        exclude=tuple(_pick(ctx, "exclude", config.exclude)),
        use_ignore_files=not ctx.params["no_ignore"],
        max_file_size=_pick(ctx, "max_file_size", config.max_file_size),
        allow_secrets=config.allow_secrets or frozenset(),
    )
    return options, config


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--show-secrets", is_flag=True, help="Print secrets whole (redacted by default).")
@input_options
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Suppress the findings recorded in this baseline file.")
@click.option("--exit-code", "findings_code", type=click.IntRange(0, 255), default=1,
              show_default=True, help="Exit code when there are findings.")
@click.pass_context
def scan(
    ctx: click.Context,
    /,
    paths: tuple[str, ...],
    output: Path | None,
    show_secrets: bool,
    findings_code: int,
    **_: object,
) -> None:
    """Scan files and folders (default '.'); '-' reads standard input."""
    from dataclasses import replace

    from leakscan.baseline import load_baseline
    from leakscan.scan import scan as run_scan

    options, config = load_settings(ctx, paths)
    baseline_file = _pick(ctx, "baseline_file", config.baseline)
    if baseline_file is not None:
        options = replace(options, baseline=load_baseline(baseline_file))
    result = run_scan(options)
    emit_report(result, _pick(ctx, "fmt", config.format), output, show_secrets)
    raise SystemExit(exit_code_for(result, findings_code, config.fail_on or "any"))


@cli.group()
def baseline() -> None:
    """Record the current findings as accepted, or drop entries that no longer match."""


@baseline.command("create")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@input_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline file to write (default: the configured `baseline`, "
              "else .leakscan-baseline.json).")
@click.pass_context
def baseline_create(
    ctx: click.Context, /, paths: tuple[str, ...], output: Path | None, **_: object
) -> None:
    """Scan PATHS (default '.') and record every finding in a baseline file."""
    from leakscan.baseline import baseline_from_findings
    from leakscan.scan import scan as run_scan

    options, config = load_settings(ctx, paths)
    target = output or config.baseline or Path(DEFAULT_BASELINE)
    result = run_scan(options)
    if result.interrupted:
        click.echo("leakscan: interrupted: baseline not written", err=True)
        raise SystemExit(ExitCode.INTERRUPTED)
    created = baseline_from_findings(result.findings, str(target))
    _write_baseline(created, target)
    click.echo(f"leakscan: {target}: {_entries(len(created.entries))} recorded", err=True)
    if result.errors:
        click.echo(
            f"leakscan: {len(result.errors)} input(s) could not be read; the baseline may be "
            "incomplete: " + "; ".join(f"{e.path}: {e.error}" for e in result.errors),
            err=True,
        )
        raise SystemExit(ExitCode.ERROR)
    raise SystemExit(ExitCode.CLEAN)


@baseline.command("prune")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@input_options
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline file to prune (default: the configured `baseline`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the pruned baseline here instead of in place.")
@click.pass_context
def baseline_prune(
    ctx: click.Context, /, paths: tuple[str, ...], output: Path | None, **_: object
) -> None:
    """Scan PATHS (default '.') and remove baseline entries that no longer match a finding."""
    from leakscan.baseline import load_baseline, prune_baseline
    from leakscan.errors import UsageError
    from leakscan.scan import scan as run_scan

    options, config = load_settings(ctx, paths)
    source = _pick(ctx, "baseline_file", config.baseline)
    if source is None:
        raise UsageError("baseline prune: no baseline file: pass --baseline FILE or set `baseline`")
    current = load_baseline(source)
    result = run_scan(options)
    if result.interrupted:
        click.echo("leakscan: interrupted: baseline left unchanged", err=True)
        raise SystemExit(ExitCode.INTERRUPTED)
    if result.errors:
        details = "; ".join(f"{e.path}: {e.error}" for e in result.errors)
        raise LeakscanError(f"baseline prune: scan incomplete, {source} left unchanged: {details}")
    pruned = prune_baseline(current, result.findings)
    target = output or source
    _write_baseline(pruned, target)
    removed = len(current.entries) - len(pruned.entries)
    click.echo(
        f"leakscan: {target}: {_entries(removed)} removed (stale), {len(pruned.entries)} kept",
        err=True,
    )
    raise SystemExit(ExitCode.CLEAN)


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def _write_baseline(baseline: Any, target: Path) -> None:
    from leakscan.baseline import render_baseline

    try:
        target.write_text(render_baseline(baseline), encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise LeakscanError(f"{target}: cannot write baseline: {exc.strerror or exc}") from exc


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
    from leakscan.examples import run_examples
    from leakscan.rules import load_rules

    loaded = load_rules(files, builtin=not files)
    failures = 0
    for outcome in run_examples(loaded):
        if not outcome.ok:
            failures += 1
            click.echo(f"FAIL {outcome.case_id}: {outcome.detail}")
    total = sum(len(r.examples) + len(r.negative_examples) for r in loaded)
    click.echo(f"{len(loaded)} rule(s), {total} example(s), {failures} failure(s)")
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
    except BrokenPipeError:
        _silence_broken_pipe()
        return ExitCode.ERROR
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
