"""Blocking commits: the plain hook of `leakscan install-hook`, and the pre-commit framework."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leakscan.synthetic import TokenGenerator
from tests.conftest import REPO_ROOT, RunCli
from tests.gitrepo import GitRepo, MakeRepo, git_env, run_git


def commit(
    repo: GitRepo,
    message: str,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`git commit` as a developer runs it: hooks enabled, output captured."""
    return subprocess.run(
        ["git", "commit", "-m", message, *args],
        cwd=cwd or repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_hook_definition() -> None:
    [hook] = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "leakscan"
    assert hook["language"] == "python"
    assert hook["entry"] == "leakscan scan --staged"
    assert hook["pass_filenames"] is False
    assert hook["require_serial"] is True
    assert hook["stages"] == ["pre-commit", "pre-merge-commit", "manual"]
    assert hook["minimum_pre_commit_version"] == "3.2.0"


def test_install_hook_writes_executable_script(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    proc = run_cli("install-hook", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    assert proc.stdout.strip() == f"leakscan: installed {hook}"
    assert hook.stat().st_mode & stat.S_IXUSR
    text = hook.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert f"LEAKSCAN_PYTHON={sys.executable}\n" in text
    assert 'exec "$LEAKSCAN_PYTHON" -m leakscan scan --staged\n' in text


def test_install_hook_refuses_to_overwrite(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho mine\n", encoding="utf-8")
    proc = run_cli("install-hook", cwd=repo.path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"Error: {hook}: a pre-commit hook already exists; re-run with --force to replace it, "
        "or add `leakscan scan --staged` to it yourself"
    )
    assert hook.read_text(encoding="utf-8") == "#!/bin/sh\necho mine\n"
    proc = run_cli("install-hook", "--force", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "-m leakscan scan --staged" in hook.read_text(encoding="utf-8")


def test_install_hook_respects_core_hooks_path(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.git("config", "core.hooksPath", "tools/githooks")
    (repo.path / "sub").mkdir()
    proc = run_cli("install-hook", str(repo.path / "sub"))
    assert proc.returncode == 0, proc.stderr
    assert (repo.path / "tools" / "githooks" / "pre-commit").is_file()
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()


def test_install_hook_in_linked_worktree_uses_common_hooks(
    make_repo: MakeRepo, run_cli: RunCli, tmp_path: Path
) -> None:
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    repo.git("worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    proc = run_cli("install-hook", cwd=tmp_path / "side")
    assert proc.returncode == 0, proc.stderr
    assert (repo.path / ".git" / "hooks" / "pre-commit").is_file()


def test_plain_hook_blocks_a_commit_with_a_token(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    assert run_cli("install-hook", cwd=repo.path).returncode == 0
    repo.stage({"ci/sonar.env": f"SONAR_TOKEN={token}\n"})
    blocked = commit(repo, "add sonar token")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "ci/sonar.env:1:13  S7791 SonarQube Cloud Scoped Organization Token" in output
    assert "commit blocked: 1 secret(s) in the staged changes" in output
    assert token not in output
    assert repo.git("rev-list", "--count", "HEAD") == "1"
    repo.stage({"ci/sonar.env": "SONAR_TOKEN=${SONAR_TOKEN}\n"})
    clean = commit(repo, "use the CI secret")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert repo.git("rev-list", "--count", "HEAD") == "2"


@pytest.mark.parametrize(
    ("args", "where"),
    [(("-a",), ""), (("--", "ci/sonar.env"), ""), (("sonar.env",), "ci")],
    ids=["commit-all", "commit-path", "commit-path-from-subfolder"],
)
def test_plain_hook_sees_the_temporary_index(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli, args: tuple[str, ...], where: str
) -> None:
    """`git commit -a` and `git commit PATH` commit from a temporary index ($GIT_INDEX_FILE),
    not from .git/index, where the token was never staged."""
    token = tokens.sqco()
    repo = make_repo()
    repo.commit({"ci/sonar.env": "SONAR_TOKEN=\n", "README.md": "hello\n"})
    assert run_cli("install-hook", cwd=repo.path).returncode == 0
    repo.write({"ci/sonar.env": f"SONAR_TOKEN={token}\n"})
    blocked = commit(repo, "add sonar token", args=args, cwd=repo.path / where)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "ci/sonar.env:1:13  S7791 SonarQube Cloud Scoped Organization Token" in output
    assert repo.git("rev-list", "--count", "HEAD") == "1"
    repo.write({"ci/sonar.env": "SONAR_TOKEN=${SONAR_TOKEN}\n"})
    clean = commit(repo, "use the CI secret", args=args, cwd=repo.path / where)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert repo.git("rev-list", "--count", "HEAD") == "2"


def test_plain_hook_lets_ignored_fixtures_through(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({"README.md": "hello\n"})
    assert run_cli("install-hook", cwd=repo.path).returncode == 0
    repo.stage(
        {
            "tests/.leakscanignore": "fixtures/\n",
            "tests/fixtures/leaked.env": f"SONAR_TOKEN={tokens.sqco()}\n",
        }
    )
    done = commit(repo, "add a test fixture")
    assert done.returncode == 0, done.stdout + done.stderr
    assert repo.git("rev-list", "--count", "HEAD") == "2"


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this project at its HEAD commit: what pre-commit installs the hook from."""
    clone = tmp_path_factory.mktemp("hook-repo") / "leakscan"
    run_git(clone.parent, "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(clone))
    return clone, run_git(clone, "rev-parse", "HEAD")


@pytest.mark.hook_install
def test_pre_commit_framework_blocks_a_commit_with_a_token(
    make_repo: MakeRepo, tokens: TokenGenerator, hook_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """pre-commit installs the hook repository with pip (from the package index configured on
    this machine; nothing else leaves it), then runs `leakscan scan --staged` on each commit."""
    source, rev = hook_repo
    token = tokens.sqco()
    repo = make_repo()
    config = f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n      - id: leakscan\n"
    repo.commit({".pre-commit-config.yaml": config, "README.md": "hello\n"}, "set up pre-commit")
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    install = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo.path,
        env=git_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    repo.stage({"sonar-project.properties": f"sonar.organization=acme\nsonar.token={token}\n"})
    blocked = commit(repo, "add token", env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "leakscan (leaked SonarQube tokens in staged changes)" in output
    assert "Failed" in output
    assert "sonar-project.properties:2:13  S7791 SonarQube Cloud Scoped Organization Token" in output
    assert "commit blocked: 1 secret(s)" in output
    assert token not in output
    repo.stage({"sonar-project.properties": "sonar.organization=acme\n"})
    clean = commit(repo, "no token", env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "leakscan (leaked SonarQube tokens in staged changes)" in clean.stdout + clean.stderr
    assert repo.git("rev-list", "--count", "HEAD") == "2"


def test_install_hook_force_keeps_a_backup(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho my-own-lint\n", encoding="utf-8")
    proc = run_cli("install-hook", "--force", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    backup = hook.with_name("pre-commit.bak")
    assert proc.stdout.strip() == f"leakscan: installed {hook} (the previous hook is kept as {backup})"
    assert backup.read_text(encoding="utf-8") == "#!/bin/sh\necho my-own-lint\n"
    # A second --force never overwrites the first backup.
    proc = run_cli("install-hook", "--force", cwd=repo.path)
    assert proc.stdout.strip().endswith(
        f"(the previous hook is kept as {hook.with_name('pre-commit.bak.1')})"
    )
    assert backup.read_text(encoding="utf-8") == "#!/bin/sh\necho my-own-lint\n"
    assert "-m leakscan scan --staged" in hook.with_name("pre-commit.bak.1").read_text(encoding="utf-8")


def test_install_hook_refuses_a_bare_repository(tmp_path: Path, run_cli: RunCli) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    proc = run_cli("install-hook", str(bare))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"Error: {bare}: bare repository (no work tree, nothing is committed here): "
        "install the hook in a clone with a work tree\n"
    )
    assert not (bare / "hooks" / "pre-commit").exists()
