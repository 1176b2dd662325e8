"""The CI recipes in examples/ and the GitLab template: every `leakscan` command line in them must
parse with the CLI (the GitHub Action composes its command; tests/ci runs it)."""

from __future__ import annotations

import re
import shlex
from typing import Any

import click
import pytest
import yaml

from leakscan.cli import cli
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
TEMPLATE = REPO_ROOT / "templates" / "leakscan.gitlab-ci.yml"
RECIPES = ("templates/leakscan.gitlab-ci.yml",)
_RUN_LEAKSCAN = "$LEAKSCAN_PYTHON -m leakscan "
_EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")


def _scripts(node: Any) -> list[str]:
    """Every shell script in a workflow: `run:` values (GitHub) and `script:` items (GitLab)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
            else:
                found.extend(_scripts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_scripts(item))
    return found


def command_lines(recipe: str) -> list[str]:
    data = yaml.safe_load((REPO_ROOT / recipe).read_text(encoding="utf-8"))
    lines = []
    for script in _scripts(data):
        for line in script.replace("\\\n", " ").splitlines():
            if line.strip().startswith(_RUN_LEAKSCAN):
                command = line.strip().removeprefix(_RUN_LEAKSCAN).replace(" $LEAKSCAN_ARGS", "")
                lines.append("leakscan " + command)  # LEAKSCAN_ARGS: empty by default
    return lines


def check_command_line(line: str) -> None:
    """Parse ``line`` with the real click commands (types, choices, callbacks) without running it.

    GitHub expressions (``${{ ... }}``) are replaced by a plain value; shell variables stay as
    literal text, which the CLI accepts as it would their values.
    """
    args = shlex.split(_EXPRESSION.sub("main", line))[1:]
    command: click.Command = cli
    ctx = click.Context(cli, info_name="leakscan")
    while isinstance(command, click.Group):
        if not args:
            raise click.UsageError("missing command")
        name, args = args[0], args[1:]
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no such command {name!r}")
        command = sub
        ctx = click.Context(sub, info_name=name, parent=ctx)
    command.make_context(name, args, parent=ctx.parent)


CASES = [(recipe, line) for recipe in RECIPES for line in command_lines(recipe)]


def test_recipes_have_leakscan_commands() -> None:
    assert len(CASES) == 3


@pytest.mark.parametrize(("recipe", "line"), CASES, ids=[f"{r}:{line}" for r, line in CASES])
def test_command_line_is_accepted(recipe: str, line: str) -> None:
    check_command_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "leakscan scan --formt sarif -o x.sarif .",
        "leakscan scan --format sarf -o x.sarif .",
        "leakscan scan --max-file-size lots .",
        "leakscan scna .",
        "leakscan baseline craete .",
    ],
    ids=[
        "misspelled-flag",
        "bad-choice",
        "bad-size",
        "misspelled-command",
        "misspelled-subcommand",
    ],
)
def test_checker_rejects_broken_lines(line: str) -> None:
    with pytest.raises(click.UsageError):
        check_command_line(line)


def test_github_workflow_shape() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and "schedule" in triggers
    jobs = workflow["jobs"]
    action_inputs = set(yaml.safe_load((REPO_ROOT / "action.yml").read_text())["inputs"])
    for job_name, sarif in (
        ("pull-request", "leakscan.sarif"),
        ("audit", "leakscan-history.sarif"),
    ):
        steps = jobs[job_name]["steps"]
        assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
        [upload] = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
        assert upload["with"]["sarif_file"] == sarif
        [scan] = [s for s in steps if s.get("uses", "").startswith("<owner>/leakscan@")]
        assert scan["with"]["output"] == sarif and set(scan["with"]) <= action_inputs
        assert jobs[job_name]["permissions"]["security-events"] == "write"
    assert jobs["audit"]["steps"][2]["with"]["mode"] == "history"
    assert "mode" not in jobs["pull-request"]["steps"][2]["with"]  # auto: --since-commit on PRs


def test_gitlab_pipeline_shape() -> None:
    pipeline = yaml.safe_load(TEMPLATE.read_text())
    report = pipeline[".leakscan"]["artifacts"]["reports"]["secret_detection"]
    assert report == "gl-secret-detection-report.json"
    for job in ("leakscan-merge-request", "leakscan-audit", "leakscan-working-tree"):
        assert pipeline[job]["extends"] == ".leakscan"
        [line] = pipeline[job]["script"]
        assert f"--format gitlab -o {report}" in line
    assert "--since-commit" in pipeline["leakscan-merge-request"]["script"][0]
    assert pipeline[".leakscan"]["variables"]["GIT_DEPTH"] == "0"
    example = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    [include] = example["include"]
    assert include["file"] == "templates/leakscan.gitlab-ci.yml"
