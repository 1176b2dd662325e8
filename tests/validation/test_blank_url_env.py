"""A blank LEAKSCAN_CLOUD_URL / LEAKSCAN_SONAR_URL counts as unset (never turns validation off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.cli import cli, overrides_from
from leakscan.options import CLOUD_URLS
from leakscan.settings import resolve


def _validation(tmp_path: Path, *args: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    command = cli.commands["scan"]
    with command.make_context("scan", ["--validate", *args, str(tmp_path)]) as ctx:
        settings = resolve((str(tmp_path),), overrides_from(ctx))
    config = settings.options.validation
    assert config is not None
    return tuple(config.cloud_urls), tuple(config.sonar_urls)


@pytest.mark.parametrize("blank", [" ", "\t \n"])
def test_blank_env_is_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("LEAKSCAN_CLOUD_URL", blank)
    monkeypatch.setenv("LEAKSCAN_SONAR_URL", blank)
    assert _validation(tmp_path) == (tuple(CLOUD_URLS), ())


def test_set_env_still_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSCAN_CLOUD_URL", "https://127.0.0.1:9")
    monkeypatch.setenv("LEAKSCAN_SONAR_URL", "https://127.0.0.1:8")
    cloud, sonar = _validation(tmp_path)
    assert cloud == ("https://127.0.0.1:9",) and sonar == ("https://127.0.0.1:8",)
