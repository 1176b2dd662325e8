"""leakscan: find leaked SonarQube tokens in files, staged changes and git history."""

from __future__ import annotations

__version__ = "0.1.0"
