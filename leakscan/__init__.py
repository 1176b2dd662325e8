"""leakscan: find leaked SonarQube tokens in files, staged changes and git history.

The public API is listed in ``__all__``; names are imported on first use so that the command
line starts fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "scan": "leakscan.scan",
    "Scanner": "leakscan.scan",
    "ScanOptions": "leakscan.options",
    "load_rules": "leakscan.rules",
    "Rule": "leakscan.rules",
    "Detector": "leakscan.detect",
    "Secret": "leakscan.models",
    "Blob": "leakscan.models",
    "Match": "leakscan.models",
    "Finding": "leakscan.models",
    "CommitInfo": "leakscan.models",
    "Validation": "leakscan.models",
    "Liveness": "leakscan.models",
    "Severity": "leakscan.models",
    "Skipped": "leakscan.models",
    "Failed": "leakscan.models",
    "ScanResult": "leakscan.models",
    "LeakscanError": "leakscan.errors",
    "ExitCode": "leakscan.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leakscan' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
