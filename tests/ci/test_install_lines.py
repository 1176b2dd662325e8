"""Every install line we ship installs this project — never a package-index name. The name
`leakscan` on the package index belongs to an unrelated project."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from leakscan.cli import DISTRIBUTION
from tests.conftest import REPO_ROOT

DIST = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
SHIPPED = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "action.yml",
    REPO_ROOT / ".ci" / "run",
    *sorted((REPO_ROOT / "examples").iterdir()),
    *sorted((REPO_ROOT / "templates").iterdir()),
]
_INSTALL = re.compile(r"\bpip3? install\b([^`\n]*)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
# Local sources: this checkout (README, .ci/run) or the action's own checkout (action.yml).
_PINNED_GIT = re.compile(r"git\+https://\S+@(<commit sha>|[0-9a-f]{40})$")
_LOCAL = {".", ".[test]", ".[test,dev]", ".[audit]", "$GITHUB_ACTION_PATH"}


def _code_text(path: Path) -> str:
    """The text install commands can be in: a whole script, or the README's code (blocks, and
    inline spans, which may wrap across lines)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".md":
        return text
    blocks = _FENCE.findall(text)
    spans = re.findall(r"`([^`]+)`", _FENCE.sub("", text).replace("\n", " "))
    return "\n".join([*blocks, *spans])


def install_lines() -> list[tuple[str, str]]:
    return [
        (path.relative_to(REPO_ROOT).as_posix(), match.group(0).strip())
        for path in SHIPPED
        for match in _INSTALL.finditer(_code_text(path))
    ]


def requirements(line: str) -> list[str]:
    """The requirement arguments of a ``pip install`` line (options and comments dropped)."""
    words = shlex.split(line.removeprefix("pip3").removeprefix("pip"), comments=True)[1:]
    return [w for w in words if not w.startswith("-") and "&&" not in w]


def test_the_distribution_name_is_ours() -> None:
    assert DIST == DISTRIBUTION == "leakscan-sonar"
    assert DIST != "leakscan"


def test_install_lines_are_found() -> None:
    found = {source for source, _ in install_lines()}
    assert {"README.md", "action.yml", "templates/leakscan.gitlab-ci.yml"} <= found


@pytest.mark.parametrize(("source", "line"), install_lines(), ids=lambda v: str(v))
def test_every_install_line_installs_this_project(source: str, line: str) -> None:
    wanted = requirements(line)
    assert wanted, f"{source}: {line!r} installs nothing"
    for requirement in wanted:
        if requirement in _LOCAL:
            continue
        name, sep, where = requirement.partition(" @ ")
        assert sep and name == DIST, f"{source}: {line!r}: {requirement!r} is not this project ({DIST})"
        pinned = where == "$LEAKSCAN_SOURCE" or _PINNED_GIT.match(where)
        assert pinned, f"{source}: {line!r}: not pinned to a commit"


def test_action_installs_from_its_own_path() -> None:
    [line] = [line for source, line in install_lines() if source == "action.yml"]
    assert requirements(line) == ["$GITHUB_ACTION_PATH"]


def test_gitlab_template_installs_our_distribution_pinned() -> None:
    [line] = [line for source, line in install_lines() if source == "templates/leakscan.gitlab-ci.yml"]
    assert requirements(line) == [f"{DIST} @ $LEAKSCAN_SOURCE"]


def test_recipes_use_the_action_and_template_not_an_index_name() -> None:
    for recipe in (REPO_ROOT / "examples").iterdir():
        text = recipe.read_text(encoding="utf-8")
        assert "pip install" not in text, f"{recipe.name} installs by itself"
    github = (REPO_ROOT / "examples" / "github-actions.yml").read_text(encoding="utf-8")
    assert github.count("        uses: <owner>/leakscan@<40-hex commit sha>") == 3
    gitlab = (REPO_ROOT / "examples" / "gitlab-ci.yml").read_text(encoding="utf-8")
    assert "file: templates/leakscan.gitlab-ci.yml" in gitlab and "LEAKSCAN_SOURCE:" in gitlab


@pytest.mark.parametrize(
    "line",
    [
        "pip install leakscan",
        "pip install -q leakscan==0.1.0",
        "pip install leakscan-sonar",
        "pip install 'x @ y'",
    ],
)
def test_the_check_rejects_index_installs(line: str) -> None:
    with pytest.raises(AssertionError):
        test_every_install_line_installs_this_project("example", line)
