"""options.parse_size and the ScanOptions defaults."""

from __future__ import annotations

import pytest

from leakscan.errors import ExitCode, UsageError
from leakscan.options import DEFAULT_MAX_FILE_SIZE, ScanOptions, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1048576", 1_048_576),
        ("100B", 100),
        ("100 b", 100),
        ("1KB", 1000),
        ("1KiB", 1024),
        ("1.5KB", 1500),
        ("10MB", 10_000_000),
        ("10mb", 10_000_000),
        ("10MiB", 10_485_760),
        ("10 MiB", 10_485_760),
        ("10M", 10_000_000),
        ("10Mi", 10_485_760),
        ("2GB", 2_000_000_000),
        ("1GiB", 1 << 30),
        ("1TiB", 1 << 40),
        (" 50MiB ", 50 << 20),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "MB", "ten", "-1", "10XB", "10 MB B", "1.5", "0.1KiB", "10i", "10iB", "1e6"]
)
def test_parse_size_rejects_junk(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_size(text)
    assert repr(text) in str(caught.value)
    assert caught.value.exit_code is ExitCode.ERROR


def test_default_options() -> None:
    options = ScanOptions()
    assert options.paths == (".",)
    assert options.max_file_size == DEFAULT_MAX_FILE_SIZE == 50 * 1024 * 1024
    assert options.use_ignore_files is True
