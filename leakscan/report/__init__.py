"""Reporter protocol and the registry of report formats (name → module with ``render``)."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Protocol

from msgspec import Struct

from leakscan.models import REPORT_FORMATS, ScanResult

FORMATS = REPORT_FORMATS


class ReportContext(Struct, frozen=True):
    """How to render: whether secrets are shown whole, whether to colour, the tool version.

    ``verbosity`` matters to the text report only. ``information_uri`` is the project's home
    page when the package declares one; ``now`` fixes
    the report time (formats that carry one use the current time when it is None).
    """

    show_secrets: bool = False
    color: bool = False
    version: str = ""
    information_uri: str = ""
    now: datetime | None = None
    verbosity: int = 0  # text report: -1 summary only (--quiet), 0 normal, 1 everything (--verbose)


class Reporter(Protocol):
    def __call__(self, result: ScanResult, context: ReportContext) -> str: ...


def get_reporter(name: str) -> Reporter:
    """Import only the format asked for (start-up stays fast)."""
    if name not in FORMATS:
        raise ValueError(f"unknown report format {name!r}")
    module = importlib.import_module(f"leakscan.report.{name}_report")
    reporter: Reporter = module.render
    return reporter
