"""leakscan: find leaked SonarQube tokens in files, staged changes and git history.

The public API is listed in ``__all__``; names are imported on first use so that the command
line starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name → (module, attribute). Tested against a literal list (tests/perf/test_public_api.py).
_EXPORTS = {
    # entry points
    "scan": ("leakscan.scan", "scan"),
    "scan_history": ("leakscan.history", "scan_history"),
    "scan_staged": ("leakscan.staged", "scan_staged"),
    "validate_tokens": ("leakscan.check", "check_tokens"),
    "load_rules": ("leakscan.examples", "load_checked_rules"),
    "resolve_settings": ("leakscan.settings", "resolve"),
    "exit_code_for": ("leakscan.policy", "exit_code_for"),
    # settings
    "Overrides": ("leakscan.settings", "Overrides"),
    "Settings": ("leakscan.settings", "Settings"),
    "ScanOptions": ("leakscan.options", "ScanOptions"),
    "HistoryOptions": ("leakscan.options", "HistoryOptions"),
    "ValidationConfig": ("leakscan.options", "ValidationConfig"),
    # machinery
    "Engine": ("leakscan.engine", "Engine"),
    "Scanner": ("leakscan.scan", "Scanner"),
    "Detector": ("leakscan.detect", "Detector"),
    "Rule": ("leakscan.rules", "Rule"),
    # value types
    "Secret": ("leakscan.models", "Secret"),
    "Blob": ("leakscan.models", "Blob"),
    "Origin": ("leakscan.models", "Origin"),
    "FileOrigin": ("leakscan.models", "FileOrigin"),
    "StdinOrigin": ("leakscan.models", "StdinOrigin"),
    "StagedOrigin": ("leakscan.models", "StagedOrigin"),
    "GitBlobOrigin": ("leakscan.models", "GitBlobOrigin"),
    "CommitMessageOrigin": ("leakscan.models", "CommitMessageOrigin"),
    "TagMessageOrigin": ("leakscan.models", "TagMessageOrigin"),
    "LayerOrigin": ("leakscan.models", "LayerOrigin"),
    "Match": ("leakscan.models", "Match"),
    "Finding": ("leakscan.models", "Finding"),
    "CommitInfo": ("leakscan.models", "CommitInfo"),
    "Validation": ("leakscan.models", "Validation"),
    "Liveness": ("leakscan.models", "Liveness"),
    "Severity": ("leakscan.models", "Severity"),
    "Skipped": ("leakscan.models", "Skipped"),
    "Failed": ("leakscan.models", "Failed"),
    "ScanResult": ("leakscan.models", "ScanResult"),
    "TokenCheck": ("leakscan.check", "TokenCheck"),
    "LeakscanError": ("leakscan.errors", "LeakscanError"),
    "ExitCode": ("leakscan.errors", "ExitCode"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'leakscan' has no attribute {name!r}")
    module, attribute = target
    return getattr(importlib.import_module(module), attribute)
