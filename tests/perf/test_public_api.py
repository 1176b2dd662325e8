"""The curated public API: every name in __all__ resolves, nothing else is promised."""

from __future__ import annotations

import subprocess
import sys

import pytest

import leakscan


@pytest.mark.parametrize("name", leakscan.__all__)
def test_exported_name_resolves(name: str) -> None:
    assert getattr(leakscan, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        leakscan.no_such_thing  # noqa: B018


def test_version_imports_nothing_heavy() -> None:
    """`leakscan --version` must not load the scanning machinery (start-up time)."""
    code = (
        "import sys; from leakscan.cli import main; main(['--version']); "
        "print(sorted(m for m in ('regex', 'pathspec', 'hyperscan', 'leakscan.scan') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"
