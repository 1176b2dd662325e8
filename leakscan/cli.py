"""Command line: flags (+ configuration file) → ScanOptions → scan → reporter → exit code.

Nothing else lives here: the logic is in the modules each command imports when it runs (so that
``leakscan --version`` starts fast).
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from leakscan import __version__
from leakscan.errors import ExitCode, LeakscanError
from leakscan.report import FORMATS
from leakscan.report.text_report import escape

if TYPE_CHECKING:
    from leakscan.models import ScanResult
    from leakscan.options import ScanOptions
    from leakscan.settings import Overrides, Settings

DEFAULT_BASELINE = ".leakscan-baseline.json"
DISTRIBUTION = "leakscan-sonar"  # pyproject.toml [project] name; a test keeps them equal

# One instance per kind of path parameter, shared by the options and arguments of that kind
# (each click.Path looks up its message translations when made: ~0.1 ms, 22 times at start-up).
FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
EXISTING_PATH = click.Path(exists=True, path_type=Path)
FOLDER = click.Path(file_okay=False, path_type=Path)
SCANNED_PATH = click.Path(readable=False, path_type=str)  # a path, '-' or a stream: checked when scanned
REPOSITORY = click.Path(path_type=str)


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from leakscan.errors import UsageError
    from leakscan.options import check_size_limit, parse_size

    if value is None:
        return None
    try:
        size = parse_size(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        return check_size_limit(size, value)
    except UsageError as exc:  # a size, but no usable limit: one line, as in the configuration
        raise UsageError(f"--max-file-size: {exc}") from exc


def _fail_on(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from leakscan.policy import parse_fail_on

    if value is None:
        return None
    return str(parse_fail_on(value))  # a UsageError is one line, exit 2


def _output(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``-o FILE``: its folder must exist, checked before anything is scanned or sent."""
    from leakscan.errors import UsageError

    if value is None or str(value) == "-":
        return value
    folder = value.parent
    if not folder.is_dir():
        raise UsageError(f"--output: {value}: folder {folder} does not exist")
    return value


def _exclusive_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``-q`` and ``-v`` exclude each other, checked before anything is scanned or sent."""
    from leakscan.errors import UsageError

    other = "verbose" if param.name == "quiet" else "quiet"
    if value and ctx.params.get(other):
        raise UsageError("--quiet and --verbose exclude each other")
    return value


def _options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Bundle click option decorators, applied in the order listed."""

    def decorate(command: Any) -> Any:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return decorate


report_options = _options(
    click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="Report format.",
    ),
    click.option(
        "-o",
        "--output",
        type=FILE,
        callback=_output,
        help="Write the report to this file instead of stdout ('-': stdout).",
    ),
    click.option("--show-secrets", is_flag=True, help="Print secrets whole (redacted by default)."),
    click.option(
        "-q", "--quiet", is_flag=True, callback=_exclusive_verbosity, help="Text report: the summary only."
    ),
    click.option(
        "-v",
        "--verbose",
        is_flag=True,
        callback=_exclusive_verbosity,
        help="Text report: every rule message and fix, every skipped and failed input.",
    ),
    click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        show_default=True,
        help="Colour the text report: auto = on a terminal, unless NO_COLOR is set (FORCE_COLOR forces it).",
    ),
    click.option(
        "--baseline",
        "baseline_file",
        type=FILE,
        help="Suppress the findings recorded in this baseline file.",
    ),
    click.option(
        "--exit-code",
        "findings_code",
        type=click.IntRange(0, 255),
        default=1,
        show_default=True,
        help="Exit code when there are findings.",
    ),
)
rule_options = _options(
    click.option(
        "--config",
        "config_file",
        type=EXISTING_FILE,
        help="Configuration file (default: .leakscan.toml or pyproject.toml [tool.leakscan], "
        "looked up from the scanned path to the repository root).",
    ),
    click.option(
        "--no-config",
        is_flag=True,
        help="Ignore discovered configuration files (for auditing someone else's repository).",
    ),
    click.option(
        "--rules",
        "extra_rules",
        multiple=True,
        type=EXISTING_PATH,
        help="Extra rule file or folder (repeatable).",
    ),
    click.option(
        "--disable-rule",
        "disable_rules",
        multiple=True,
        metavar="RULE_ID",
        help="Turn a rule off (repeatable).",
    ),
    click.option(
        "--max-file-size",
        callback=_size,
        default="50MiB",
        show_default=True,
        metavar="SIZE",
        help="Larger files or blobs are skipped (bytes, or 10MB / 10MiB).",
    ),
    click.option(
        "--max-decode-depth",
        type=click.IntRange(0, 10),
        default=3,
        show_default=True,
        help="How deep to decode (base64, …) and open archives, nested; 0 = off.",
    ),
)
file_options = _options(
    click.option(
        "--exclude",
        multiple=True,
        metavar="PATTERN",
        help="Skip paths matching this gitignore-style pattern (repeatable).",
    ),
    click.option("--no-ignore", is_flag=True, help="Ignore .gitignore/.leakscanignore: scan everything."),
    click.option(
        "--large-files",
        type=click.Choice(["skip", "scan"]),
        default="skip",
        show_default=True,
        help="Files over --max-file-size: skip (and report), or stream them in chunks.",
    ),
    click.option(
        "--workers",
        type=click.IntRange(0, 256),
        default=0,
        show_default=True,
        help="Worker processes for large scans (0 = one per core).",
    ),
)
history_options = _options(
    click.option(
        "--branch",
        "branches",
        multiple=True,
        metavar="NAME",
        help="Scan only what this branch, tag or commit reaches (repeatable).",
    ),
    click.option(
        "--since-commit",
        metavar="REV",
        callback=lambda ctx, param, value: _non_empty(value, "--since-commit"),
        help="Scan only commits not reachable from REV (e.g. origin/main).",
    ),
    click.option(
        "--max-commits", type=click.IntRange(1), metavar="N", help="Scan at most the newest N commits."
    ),
    click.option(
        "--no-progress", is_flag=True, help="No progress bar (there is none when stderr is not a terminal)."
    ),
)
connection_options = _options(
    click.option(
        "--sonar-url",
        "sonar_urls",
        multiple=True,
        metavar="URL",
        envvar="LEAKSCAN_SONAR_URL",
        help="SonarQube Server to check server tokens against (repeatable; env LEAKSCAN_SONAR_URL).",
    ),
    click.option(
        "--cloud-url",
        "cloud_urls",
        multiple=True,
        metavar="URL",
        envvar="LEAKSCAN_CLOUD_URL",
        help="Replaces the SonarQube Cloud hosts sonarcloud.io and sonarqube.us "
        "(repeatable; env LEAKSCAN_CLOUD_URL).",
    ),
    click.option(
        "--ca-bundle",
        type=EXISTING_FILE,
        help="Trust the CA certificates in this PEM file (default: SSL_CERT_FILE, else certifi).",
    ),
    click.option(
        "--validate-timeout",
        type=click.FloatRange(0, min_open=True),
        default=10.0,
        show_default=True,
        help="Seconds a request may take in all (connect, headers, body).",
    ),
    click.option(
        "--validate-rate",
        type=click.FloatRange(0, min_open=True),
        default=5.0,
        show_default=True,
        help="At most this many requests per second, in all.",
    ),
    click.option(
        "--validate-max-requests",
        type=click.IntRange(0),
        default=500,
        show_default=True,
        help="At most this many requests in all; tokens left are 'unknown' (budget exhausted).",
    ),
    click.option(
        "--validate-deadline",
        type=click.FloatRange(0, min_open=True),
        default=120.0,
        show_default=True,
        help="Seconds the whole validation may take; tokens left are 'unknown' (budget exhausted).",
    ),
)
validation_options = _options(
    click.option("--validate", is_flag=True, help="Ask the SonarQube API whether each token is live."),
    connection_options,
    click.option(
        "--fail-on",
        callback=_fail_on,
        default="any",
        show_default=True,
        metavar="any|live|proven-live|none[,info]",
        help="Which findings make the exit code 1: live also fails on unchecked ones, proven-live "
        "only on proven live ones (both imply --validate); add ',info' to count info findings.",
    ),
)


def overrides_from(ctx: click.Context) -> Overrides:
    """The settings the user gave on the command line (options left at their default: None)."""
    from leakscan.settings import Overrides

    params = ctx.params

    def given(name: str) -> Any:
        return params[name] if name in params and _explicit(ctx, name) else None

    def urls_given(name: str) -> bool:
        """A blank LEAKSCAN_CLOUD_URL / LEAKSCAN_SONAR_URL counts as unset."""
        if name not in params or not _explicit(ctx, name):
            return False
        return bool(params[name]) or ctx.get_parameter_source(name) != ParameterSource.ENVIRONMENT

    def tupled(name: str) -> Any:
        value = given(name)
        return tuple(value) if value is not None else None

    # Only commands with the validation options validate: `baseline` never sends a token out,
    # whatever `fail_on` the configuration sets.
    validate = (
        params["validate"] if "validate" in params else (True if ctx.command.name == "validate" else None)
    )
    return Overrides(
        config_file=params.get("config_file"),
        no_config=params.get("no_config", False),
        since_commit=params.get("since_commit"),
        fmt=given("fmt"),
        fail_on=given("fail_on"),
        extra_rules=tupled("extra_rules"),
        disable_rules=tupled("disable_rules"),
        exclude=tupled("exclude"),
        max_file_size=given("max_file_size"),
        decode_depth=given("max_decode_depth"),
        baseline_file=given("baseline_file"),
        # `baseline create` writes the configured baseline; only the other commands read it.
        read_baseline="baseline_file" in params,
        use_ignore_files=not params.get("no_ignore", False),
        scan_large_files=params.get("large_files") == "scan",
        workers=params.get("workers", 0),
        validate=validate,
        cloud_urls=tupled("cloud_urls") if urls_given("cloud_urls") else None,
        sonar_urls=tupled("sonar_urls") if urls_given("sonar_urls") else None,
        ca_bundle=params.get("ca_bundle"),
        validate_timeout=params.get("validate_timeout", 10.0),
        validate_rate=params.get("validate_rate", 5.0),
        validate_max_requests=params.get("validate_max_requests", 500),
        validate_deadline=params.get("validate_deadline", 120.0),
        cloud_urls_given=urls_given("cloud_urls"),
        sonar_urls_given=urls_given("sonar_urls"),
    )


def load_settings(ctx: click.Context, paths: Sequence[str]) -> Settings:
    """Find and read the configuration file, then let the command line override it."""
    from leakscan.progress import token_progress
    from leakscan.settings import resolve

    settings = resolve(paths, overrides_from(ctx), progress=token_progress(sys.stderr))
    if settings.fmt == "html" and ctx.params.get("show_secrets"):
        from leakscan.errors import UsageError

        raise UsageError("--show-secrets cannot be used with --format html: HTML reports always redact")
    return settings


def _explicit(ctx: click.Context, name: str) -> bool:
    """Did the user give this option (rather than click filling in its default)?"""
    source = ctx.get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def _use_color(stream: Any, choice: str = "auto") -> bool:
    """``--color``; for ``auto``, a non-empty NO_COLOR turns colour off (no-color.org), a
    non-empty FORCE_COLOR other than ``0`` turns it on, else colour only on a terminal."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "0") not in ("", "0", "false"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _information_uri() -> str:
    """The project's home page, when the installed package declares one (SARIF and GitLab show
    it). Looked up only for those formats: reading package metadata costs ~20 ms."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata(DISTRIBUTION).get_all("Project-URL") or []
    except PackageNotFoundError:
        return ""
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "documentation", "source"):
            return str(url).strip()
    return ""


def _non_empty(value: str | None, option: str) -> str | None:
    if value is not None and not value.strip():
        raise click.UsageError(f"{option}: empty revision (give a branch, tag or commit)")
    return value


def emit_report(result: ScanResult, fmt: str, output: Path | None, params: dict[str, Any]) -> None:
    """Render ``result`` to stdout or ``output``; a one-line summary goes to stderr as well
    unless the text report is on stdout (it has the summary)."""
    from leakscan.report import ReportContext, get_reporter
    from leakscan.report.text_report import render_summary

    context = ReportContext(
        show_secrets=params["show_secrets"],
        color=(output is None or str(output) == "-") and _use_color(sys.stdout, params.get("color", "auto")),
        verbosity=-1 if params.get("quiet") else int(bool(params.get("verbose"))),
        version=__version__,
        information_uri=_information_uri() if fmt in ("sarif", "gitlab") else "",
    )
    text = get_reporter(fmt)(result, context)
    if output is not None and str(output) == "-":
        output = None  # `-o -`: standard output
    if output is None:
        try:
            click.echo(text, nl=False, color=context.color)  # click strips colour off a terminal
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_broken_pipe()
        except OSError as exc:  # a full disk behind a redirection
            _silence_broken_pipe()
            raise LeakscanError(f"stdout: cannot write report: {exc.strerror or exc}") from exc
    else:
        from leakscan.output import write_atomically

        write_atomically(output, text)
    if fmt != "text" or output is not None:
        click.echo(render_summary(result), err=True)


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """A closed stdout or stderr pipe (`| head`, `2>&1 | true`) while reporting is not an error,
    but the exit code stays the one the results call for: findings never turn into 0."""
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        _silence_broken_pipe(stderr_too=True)


class _outcome:  # noqa: N801 (a namespace)
    """Set by commands whose exit code reports a result (findings, live tokens, failures)."""

    pending = False


def outcome_pending() -> None:
    """This command's exit code reports a result: a broken pipe must not turn it into 0."""
    _outcome.pending = True


def exit_code_for(result: ScanResult, findings_code: int, fail_on: str = "any") -> int:
    """The exit code under ``--fail-on`` (leakscan/policy.py)."""
    from leakscan.policy import exit_code, parse_fail_on

    return exit_code(result, findings_code, parse_fail_on(fail_on))


def note_settings(result: ScanResult, settings: Settings, inputs: str | None) -> None:
    """Add the settings' notes (the configuration applied), and one when excludes left nothing
    of the ``inputs`` ("files" or "history"; None: not checked)."""
    from leakscan.settings import excluded_everything_note

    result.stats.notes.extend(settings.notes)
    note = excluded_everything_note(result, settings.options, inputs == "history") if inputs else None
    if note:
        result.stats.notes.append(note)


def note_fail_on(result: ScanResult, fail_on: str) -> None:
    """Say in the summary when ``--fail-on live`` fails on findings it could not check."""
    from leakscan.policy import fail_on_note, parse_fail_on

    note = fail_on_note(result, parse_fail_on(fail_on))
    if note:
        result.stats.notes.append(note)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscan")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Find leaked SonarQube tokens in files, staged changes and git history."""


@cli.command()
@click.argument("paths", nargs=-1, type=SCANNED_PATH)
@report_options
@rule_options
@file_options
@click.option(
    "--staged", is_flag=True, help="Scan the staged changes (git index) of the repository containing PATH."
)
@click.option(
    "--whole-files", is_flag=True, help="With --staged: scan staged files whole, not only the changed lines."
)
@validation_options
@click.pass_context
def scan(ctx: click.Context, /, paths: tuple[str, ...], **params: Any) -> None:
    """Scan files and folders (default '.'); '-' reads standard input.

    \b
    Examples:
      leakscan scan .                          the working tree (ignore files honoured)
      git diff | leakscan scan -               standard input
      leakscan scan --staged                   what the next commit adds (pre-commit hook)
      leakscan scan --format sarif -o x.sarif  a report for code scanning

    \b
    Exit codes: 0 nothing found (everything scanned or skipped by policy, and listed);
    1 findings (--exit-code N); 2 usage or configuration error, or an input could not be
    read and nothing was found; 130 interrupted.
    """
    outcome_pending()
    settings = load_settings(ctx, paths)
    if params["staged"] or params["whole_files"]:
        result = _scan_staged(settings.options, paths, params["staged"], params["whole_files"])
    else:
        from leakscan.scan import scan as run_scan

        result = run_scan(settings.options)
    note_settings(result, settings, None if params["staged"] else "files")
    note_fail_on(result, settings.fail_on)
    with reader_may_leave():
        emit_report(result, settings.fmt, params["output"], params)
        if params["staged"] and result.findings and not params["quiet"]:
            from leakscan.staged import fix_hint

            click.echo(fix_hint(result), err=True)
    raise SystemExit(exit_code_for(result, params["findings_code"], settings.fail_on))


def _scan_staged(options: ScanOptions, paths: tuple[str, ...], staged: bool, whole_files: bool) -> ScanResult:
    from leakscan.errors import UsageError
    from leakscan.staged import scan_staged

    if not staged:
        raise click.UsageError("--whole-files only applies with --staged")
    if "-" in paths:
        raise UsageError("--staged scans the git index: '-' (standard input) cannot be combined with it")
    if len(paths) > 1:
        raise click.UsageError("--staged takes at most one PATH: a folder inside the repository")
    return scan_staged(options, paths[0] if paths else ".", whole_files=whole_files)


@cli.command()
@click.argument("repo", default=".", type=REPOSITORY)
@history_options
@click.option(
    "--workers",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="Processes scanning blobs; 0 = automatic (2 on a large history).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Skip paths matching this gitignore-style pattern (repeatable).",
)
@click.option(
    "--large-files",
    type=click.Choice(["skip", "scan"]),
    default="skip",
    show_default=True,
    help="Blobs over --max-file-size: skip (and report), or stream them in chunks.",
)
@report_options
@rule_options
@validation_options
@click.pass_context
def history(ctx: click.Context, /, repo: str, **params: Any) -> None:
    """Scan every commit reachable from the repository's refs (default: all branches, remote
    branches, tags and stashes); each unique blob is scanned once.

    \b
    Examples:
      leakscan history                              every branch, tag and stash
      leakscan history --since-commit origin/main   only what a pull request adds
      leakscan history --branch main --format json  one branch, as JSON

    \b
    Exit codes: 0 nothing found, everything scanned; 1 findings (--exit-code N); 2 usage
    error, not a repository, unknown --branch/--since-commit, or an incomplete scan with no
    findings; 130 interrupted.
    """
    outcome_pending()
    settings = load_settings(ctx, (repo,))
    result = _run_history(settings.options, repo, params)
    note_settings(result, settings, "history")
    note_fail_on(result, settings.fail_on)
    with reader_may_leave():
        emit_report(result, settings.fmt, params["output"], params)
    raise SystemExit(exit_code_for(result, params["findings_code"], settings.fail_on))


def _run_history(options: ScanOptions, repo: str, params: dict[str, Any]) -> ScanResult:
    from leakscan.history import scan_history
    from leakscan.options import HistoryOptions
    from leakscan.progress import ProgressBar, is_terminal

    wanted = HistoryOptions(
        repo=repo,
        branches=params["branches"],
        since_commit=params["since_commit"],
        max_commits=params["max_commits"],
        workers=params["workers"],
    )
    bar = None if params["no_progress"] or not is_terminal(sys.stderr) else ProgressBar()
    try:
        return scan_history(options, wanted, progress=bar)
    finally:
        if bar is not None:
            bar.close()


@cli.command("validate")
@click.argument("tokens", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--config",
    "config_file",
    type=EXISTING_FILE,
    help="Configuration file (default: .leakscan.toml or pyproject.toml [tool.leakscan], "
    "looked up from the current folder to the repository root).",
)
@click.option(
    "--rules",
    "extra_rules",
    multiple=True,
    type=EXISTING_PATH,
    help="Extra rule file or folder (repeatable).",
)
@connection_options
@click.pass_context
def validate_command(ctx: click.Context, /, tokens: tuple[str, ...], **params: Any) -> None:
    """Check whether tokens are live. TOKEN arguments, or '-' to read one per line from stdin.

    Exit 1 if any token is live; 0 if none is live and all were checked; 2 if any is unknown,
    not checked or not a recognised token (and none is live).
    """
    outcome_pending()
    from leakscan.check import check_tokens, checks_exit_code, render_checks
    from leakscan.config import discover_config
    from leakscan.errors import UsageError
    from leakscan.examples import load_checked_rules
    from leakscan.progress import token_progress
    from leakscan.settings import resolve_rules, resolve_validation

    given: list[str] = []
    for token in tokens:
        if token == "-":
            given.extend(line.strip() for line in sys.stdin.read().splitlines() if line.strip())
        else:
            given.append(token.strip())
    if not given:
        raise UsageError("validate: no token given (pass TOKEN arguments, or '-' to read stdin)")
    overrides = overrides_from(ctx)
    settings = discover_config(overrides.config_file, Path.cwd())
    extra_rules, disable_rules = resolve_rules(overrides, settings)
    config = resolve_validation(overrides, settings, "any", Path.cwd(), token_progress(sys.stderr))
    assert config is not None
    checks = check_tokens(given, load_checked_rules(extra_rules, disable=disable_rules), config)
    click.echo(render_checks(checks, params["fmt"], __version__), nl=False)
    raise SystemExit(checks_exit_code(checks))


@cli.command("install-hook")
@click.argument("repo", default=".", type=REPOSITORY)
@click.option("--force", is_flag=True, help="Replace an existing pre-commit hook (kept as pre-commit.bak).")
def install_hook(repo: str, force: bool) -> None:
    """Write a git pre-commit hook that runs `leakscan scan --staged` (no framework needed)."""
    from leakscan.hook import install_hook as write_hook

    target, backup = write_hook(repo, sys.executable, force=force)
    kept = f" (the previous hook is kept as {backup})" if backup is not None else ""
    click.echo(f"leakscan: installed {target}{kept}")


baseline_inputs = _options(
    click.argument("paths", nargs=-1, type=SCANNED_PATH),
    rule_options,
    file_options,
    click.option(
        "--history",
        "from_history",
        is_flag=True,
        help="Use the findings of `leakscan history` on the repository PATH instead.",
    ),
    history_options,
)


@cli.group()
def baseline() -> None:
    """Record the current findings as accepted, or drop entries that no longer match."""


@baseline.command("create")
@baseline_inputs
@click.option(
    "-o",
    "--output",
    type=FILE,
    callback=_output,
    help=f"Baseline file to write (default: the configured `baseline`, else {DEFAULT_BASELINE}).",
)
@click.pass_context
def baseline_create(ctx: click.Context, /, paths: tuple[str, ...], **params: Any) -> None:
    """Scan PATHS (default '.') and record every finding in a baseline file."""
    outcome_pending()
    from leakscan.baseline import baseline_from_findings

    settings = load_settings(ctx, paths)
    target = params["output"] or settings.config.baseline or Path(DEFAULT_BASELINE)
    result = _baseline_scan(settings.options, paths, params)
    if result.interrupted:
        click.echo("leakscan: interrupted: baseline not written", err=True)
        raise SystemExit(ExitCode.INTERRUPTED)
    created = baseline_from_findings(result.findings, str(target))
    _write_baseline(created, target)
    with reader_may_leave():
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
@baseline_inputs
@click.option(
    "--baseline",
    "baseline_file",
    type=FILE,
    help="Baseline file to prune (default: the configured `baseline`).",
)
@click.option(
    "-o",
    "--output",
    type=FILE,
    callback=_output,
    help="Write the pruned baseline here instead of in place.",
)
@click.pass_context
def baseline_prune(ctx: click.Context, /, paths: tuple[str, ...], **params: Any) -> None:
    """Scan PATHS (default '.') and remove baseline entries that no longer match a finding."""
    outcome_pending()
    from msgspec.structs import replace

    from leakscan.baseline import prune_baseline
    from leakscan.errors import UsageError

    settings = load_settings(ctx, paths)
    current = settings.options.baseline
    if current is None:
        raise UsageError("baseline prune: no baseline file: pass --baseline FILE or set `baseline`")
    result = _baseline_scan(replace(settings.options, baseline=None), paths, params)
    if result.interrupted:
        click.echo("leakscan: interrupted: baseline left unchanged", err=True)
        raise SystemExit(ExitCode.INTERRUPTED)
    if result.errors:
        details = "; ".join(f"{e.path}: {e.error}" for e in result.errors)
        raise LeakscanError(f"baseline prune: scan incomplete, {current.source} left unchanged: {details}")
    pruned = prune_baseline(current, result.findings)
    target = params["output"] or Path(current.source)
    _write_baseline(pruned, target)
    removed = len(current.entries) - len(pruned.entries)
    kept = len(pruned.entries)
    with reader_may_leave():
        click.echo(f"leakscan: {target}: {_entries(removed)} removed (stale), {kept} kept", err=True)
    raise SystemExit(ExitCode.CLEAN)


def _baseline_scan(options: ScanOptions, paths: tuple[str, ...], params: dict[str, Any]) -> ScanResult:
    if not params["from_history"]:
        from leakscan.scan import scan as run_scan

        return run_scan(options)
    if len(paths) > 1:
        raise click.UsageError("--history takes at most one PATH: the repository")
    return _run_history(options, paths[0] if paths else ".", params)


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def _write_baseline(baseline: Any, target: Path) -> None:
    from leakscan.baseline import render_baseline
    from leakscan.output import write_atomically

    write_atomically(target, render_baseline(baseline), "baseline")


@cli.group()
def rules() -> None:
    """List rules, or check rule files against their examples."""


@rules.command("list")
@click.option(
    "--rules",
    "extra_rules",
    multiple=True,
    type=EXISTING_PATH,
    help="Also list the rules of this file or folder (repeatable).",
)
def rules_list(extra_rules: tuple[Path, ...]) -> None:
    """Show the loaded rules."""
    from leakscan.examples import load_checked_rules

    for rule in load_checked_rules(extra_rules):
        key = rule.key or "-"
        click.echo(f"{rule.id:<40} {key:<6} {rule.severity.value:<8} {rule.name}  ({rule.source})")


@rules.command("check")
@click.argument("files", nargs=-1, type=EXISTING_PATH)
def rules_check(files: tuple[Path, ...]) -> None:
    """Check rule files (default: the built-in ones) and run every example."""
    outcome_pending()
    from leakscan.examples import example_problems
    from leakscan.rules import load_rules

    loaded = load_rules(files, builtin=not files)
    failures = example_problems(loaded)
    for problem in failures:
        click.echo(f"FAIL {problem}")
    total = sum(len(r.examples) + len(r.negative_examples) for r in loaded)
    click.echo(f"{len(loaded)} rule(s), {total} example(s), {len(failures)} failure(s)")
    raise SystemExit(ExitCode.ERROR if failures else ExitCode.CLEAN)


class _AuditGroup(click.Group):
    """``leakscan audit TARGET…`` runs an audit; ``leakscan audit report`` renders the store."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leakscan" / "mirrors"


@cli.group(cls=_AuditGroup)
def audit() -> None:
    """Audit many repositories into a store, incrementally (see `leakscan audit run --help`)."""


@audit.command("run")
@click.argument("targets", nargs=-1)
@click.option(
    "--repos",
    "repo_files",
    multiple=True,
    type=EXISTING_FILE,
    help="File with one URL or path per line (# comments); repeatable.",
)
@click.option(
    "--github-org",
    "github_orgs",
    multiple=True,
    metavar="ORG",
    help="Every repository of this GitHub organisation (token: GITHUB_TOKEN).",
)
@click.option(
    "--gitlab-group",
    "gitlab_groups",
    multiple=True,
    metavar="GROUP",
    help="Every project of this GitLab group and its subgroups (token: GITLAB_TOKEN).",
)
@click.option(
    "--github-url",
    default="https://api.github.com",
    show_default=True,
    help="GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).",
)
@click.option("--gitlab-url", default="https://gitlab.com", show_default=True, help="GitLab base URL.")
@click.option("--include-forks", is_flag=True, help="Also audit forks listed by GitHub/GitLab.")
@click.option("--include-archived", is_flag=True, help="Also audit archived repositories.")
@click.option(
    "--store",
    type=FILE,
    default="leakscan-audit.sqlite",
    show_default=True,
    help="SQLite store kept across audits.",
)
@click.option(
    "--cache",
    type=FOLDER,
    default=None,
    help="Mirror cache folder (default: ~/.cache/leakscan/mirrors).",
)
@click.option(
    "--scheduler",
    envvar="DASK_SCHEDULER_ADDRESS",
    metavar="ADDRESS",
    help="Run on this Dask scheduler ('local': start a LocalCluster). Env: DASK_SCHEDULER_ADDRESS.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="Local processes (or LocalCluster workers); 0 = one per core.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds one clone or fetch may take.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=2,
    show_default=True,
    help="Retries of a failed clone or fetch.",
)
@click.option(
    "--exclude", multiple=True, metavar="PATTERN", help="Skip paths matching this pattern (repeatable)."
)
@click.option("--no-progress", is_flag=True, help="No line per finished repository on stderr.")
@rule_options
@validation_options
@click.pass_context
def audit_run(ctx: click.Context, /, targets: tuple[str, ...], **params: Any) -> None:
    """Audit TARGETs (git URLs, repository paths, folders of clones); re-audits scan only new blobs.
    `leakscan audit report` renders the store."""
    outcome_pending()
    from leakscan.audit.runner import AuditOptions, run_audit
    from leakscan.audit.targets import collect_targets

    settings = load_settings(ctx, ())
    found = collect_targets(
        list(targets),
        list(params["repo_files"]),
        list(params["github_orgs"]),
        list(params["gitlab_groups"]),
        github_url=params["github_url"],
        gitlab_url=params["gitlab_url"],
        github_token=os.environ.get("GITHUB_TOKEN"),
        gitlab_token=os.environ.get("GITLAB_TOKEN"),
        forks=params["include_forks"],
        archived=params["include_archived"],
    )
    if not found:
        raise click.UsageError("nothing to audit: give TARGETs, --repos, --github-org or --gitlab-group")
    options = AuditOptions(
        store=params["store"],
        cache=params["cache"] or _default_cache(),
        scheduler=params["scheduler"] or None,
        workers=params["workers"],
        timeout=params["timeout"],
        retries=params["retries"],
        validation=settings.options.validation,
    )
    progress = None if params["no_progress"] else _audit_progress
    summary = run_audit(found, settings.options, options, progress)
    click.echo(summary.describe(options.store, validated=options.validation is not None), err=True)
    for outcome in summary.failed:
        click.echo(f"audit: failed: {outcome.name}: {outcome.error}", err=True)
    if summary.interrupted:
        click.echo("audit: interrupted; finished repositories are kept, the next audit resumes", err=True)
        raise SystemExit(ExitCode.INTERRUPTED)
    if summary.failed:
        raise SystemExit(ExitCode.ERROR)
    raise SystemExit(ExitCode.FINDINGS if summary.new_findings else ExitCode.CLEAN)


def _audit_progress(summary: Any, outcome: Any) -> None:
    click.echo(summary.progress_line(outcome), err=True)


@audit.command("report")
@click.option(
    "--store",
    type=EXISTING_FILE,
    required=True,
    help="The audit store to render.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "sarif", "csv", "html"]),
    default="json",
    show_default=True,
    help="Report format.",
)
@click.option(
    "-o",
    "--output",
    type=FILE,
    callback=_output,
    help="Write to this file.",
)
@click.option("--show-secrets", is_flag=True, help="Print secrets whole (redacted by default).")
@click.option(
    "--rules",
    "extra_rules",
    multiple=True,
    type=EXISTING_PATH,
    help="Extra rule files the audit used (repeatable).",
)
def audit_report(
    store: Path, fmt: str, output: Path | None, show_secrets: bool, extra_rules: tuple[Path, ...]
) -> None:
    """Render the findings of an audit store (no rescanning)."""
    from leakscan.audit.report import render_audit
    from leakscan.audit.store import Store
    from leakscan.rules import load_rules

    with Store(store) as opened:
        text = render_audit(
            opened, load_rules(extra_rules), fmt, version=__version__, show_secrets=show_secrets
        )
    if output is None:
        click.echo(text, nl=False)
    else:
        from leakscan.output import write_atomically

        write_atomically(output, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; turn every error into one stderr line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _outcome.pending = False
    _stop_on_sigterm()
    try:
        cli.main(args=args, prog_name="leakscan", standalone_mode=False)
    except SystemExit as exc:
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # click's answer to a broken pipe
            sys.stdout = getattr(sys.stdout, "wrapped", sys.stdout)
            sys.stderr = getattr(sys.stderr, "wrapped", sys.stderr)
            _silence_broken_pipe(stderr_too=True)
            # The reader stopped reading (`| head`): fine for listings and help, but a pipe closed
            # before a check's outcome was known fails closed.
            return ExitCode.ERROR if _outcome.pending else ExitCode.CLEAN
        return int(exc.code or 0)
    except click.exceptions.Abort:
        click.echo("leakscan: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except click.UsageError as exc:  # one line, like every other error (it may quote a value: escaped)
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {escape(exc.format_message())}{where}", err=True)
        return ExitCode.ERROR
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # it may quote a path or value given on the command line: escaped
        click.echo("".join(escape(line) + "\n" for line in shown.getvalue().splitlines()), err=True, nl=False)
        return ExitCode.ERROR
    except LeakscanError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        for line in getattr(exc, "problems", None) or [str(exc)]:
            click.echo(f"Error: {escape(line)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("leakscan: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {escape(str(exc))} (re-run with --debug)", err=True
        )
        return ExitCode.ERROR
    return ExitCode.CLEAN


def _stop_on_sigterm() -> None:
    """SIGTERM is handled like Ctrl-C: the scan stops (workers too) and reports what it has."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: object) -> None:
    from leakscan.parallel import Terminated

    raise Terminated()


def _silence_broken_pipe(*, stderr_too: bool = False) -> None:
    """The reader went away (e.g. `| head`): don't let the interpreter complain at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr) if stderr_too else (sys.stdout,):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):  # no real file (e.g. CliRunner)
            pass
    os.close(devnull)
