"""The GitHub Action (action.yml): its `run:` scripts, executed in order with bash against a
temporary repository, with the environment variables GitHub sets for a composite action."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from leakscan.synthetic import TokenGenerator
from tests.ci.conftest import clean_env, pull_request_clone
from tests.conftest import REPO_ROOT

ACTION = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


class ActionRun:
    """The outcome of running every step: the last step's process, outputs, and the env file."""

    def __init__(self, proc: subprocess.CompletedProcess[str], outputs: dict[str, str]) -> None:
        self.proc = proc
        self.outputs = outputs


def _evaluate(text: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """The expressions the action uses: ``inputs.NAME`` and ``github.NAME``; any other fails."""

    def value(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).partition(".")
        if scope == "inputs":
            return inputs[name]
        if scope == "github":
            return github[name]
        raise AssertionError(f"unexpected expression in action.yml: {match.group(0)}")

    return _EXPRESSION.sub(value, text)


def _read_key_values(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        pairs[key] = value
    return pairs


def run_action(
    workspace: Path, tmp_path: Path, event: str, with_: dict[str, str] | None = None, **env: str
) -> ActionRun:
    """Run the composite action's steps as the runner would (``bash --noprofile --norc -eo
    pipefail``, one process per step, GITHUB_ENV applied to the following steps)."""
    given = with_ or {}
    unknown = set(given) - set(ACTION["inputs"])
    assert not unknown, f"no such input: {unknown}"
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()} | given
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env_file, output_file = runner_temp / "github_env", runner_temp / "github_output"
    env_file.write_text("")
    output_file.write_text("")
    github = {"workspace": str(workspace), "action_path": str(REPO_ROOT)}
    base = clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME=event,
        GITHUB_BASE_REF="main" if event == "pull_request" else "",
        GITHUB_HEAD_REF="feature" if event == "pull_request" else "",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_ACTION_PATH=str(REPO_ROOT),
        GITHUB_ENV=str(env_file),
        GITHUB_OUTPUT=str(output_file),
        RUNNER_TEMP=str(runner_temp),
        **env,
    )
    assert ACTION["runs"]["using"] == "composite"
    proc: subprocess.CompletedProcess[str] | None = None
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash"
        step_env = {k: _evaluate(str(v), inputs, github) for k, v in step.get("env", {}).items()}
        cwd = _evaluate(step.get("working-directory", "${{ github.workspace }}"), inputs, github)
        script = runner_temp / "step.sh"
        script.write_text(_evaluate(step["run"], inputs, github))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=base | _read_key_values(env_file) | step_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            break
    assert proc is not None
    return ActionRun(proc, _read_key_values(output_file))


def sarif_results(path: Path) -> list[dict[str, Any]]:
    report = json.loads(path.read_text(encoding="utf-8"))
    return [result for run in report["runs"] for result in run["results"]]


def test_pull_request_scans_only_the_commits_it_adds(
    tmp_path: Path, tokens: TokenGenerator, ready_venv: Path
) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    run = run_action(clone, tmp_path, "pull_request", LEAKSCAN_VENV=str(ready_venv))
    assert run.proc.returncode == 1, run.proc.stderr
    assert run.outputs == {"report": "leakscan.sarif", "exit-code": "1"}
    results = sarif_results(clone / "leakscan.sarif")
    paths = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert paths == ["new.env"]  # the old leak on main is not the pull request's


def test_push_audits_the_whole_history(tmp_path: Path, tokens: TokenGenerator, ready_venv: Path) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    run = run_action(clone, tmp_path, "push", {"output": "all.sarif"}, LEAKSCAN_VENV=str(ready_venv))
    assert run.proc.returncode == 1, run.proc.stderr
    results = sarif_results(clone / "all.sarif")
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)
    assert uris == ["new.env", "old.properties"]


def test_inputs_reach_the_command(tmp_path: Path, tokens: TokenGenerator, ready_venv: Path) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    (clone / "fixtures").mkdir()
    run = run_action(
        clone,
        tmp_path,
        "pull_request",
        {"format": "json", "output": "out.json", "args": "--exclude new.env  --exit-code 3"},
        LEAKSCAN_VENV=str(ready_venv),
    )
    assert run.proc.returncode == 0, run.proc.stderr
    assert json.loads((clone / "out.json").read_text())["findings"] == []
    run = run_action(
        clone, tmp_path, "pull_request", {"fail-on": "none", "mode": "scan"}, LEAKSCAN_VENV=str(ready_venv)
    )
    assert run.proc.returncode == 0, run.proc.stderr
    assert len(sarif_results(clone / "leakscan.sarif")) == 2  # the working tree has both


def test_baseline_input(tmp_path: Path, tokens: TokenGenerator, ready_venv: Path) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    run = run_action(
        clone, tmp_path, "pull_request", {"baseline": "nope.json"}, LEAKSCAN_VENV=str(ready_venv)
    )
    assert run.proc.returncode == 2
    assert "nope.json" in run.proc.stderr


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"mode": "everything"}, "input mode: 'everything' is not one of auto, history, scan"),
        ({"validate": "yes"}, "input validate: 'yes' is not true or false"),
        ({"fail-on": "some"}, "'some': use one of any, live, proven-live, none"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, tokens: TokenGenerator, ready_venv: Path, inputs: dict[str, str], message: str
) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    run = run_action(clone, tmp_path, "pull_request", inputs, LEAKSCAN_VENV=str(ready_venv))
    assert run.proc.returncode == 2
    assert message in run.proc.stderr


def test_install_step_installs_the_action_checkout() -> None:
    """Without LEAKSCAN_VENV the first step creates a venv and installs the action's own path."""
    install = ACTION["runs"]["steps"][0]["run"]
    [line] = [line.strip() for line in install.splitlines() if "pip install" in line]
    assert line.endswith('pip install --disable-pip-version-check --quiet "$GITHUB_ACTION_PATH"')
    assert '-m venv "$venv"' in install
    assert "$INPUT_" not in ACTION["runs"]["steps"][1]["run"].split("case")[0]  # no inputs in shell text
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step["run"], "inputs reach the scripts through env:, not as shell text"
