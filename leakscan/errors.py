"""Exception tree: each error carries a one-line user message and an exit code.

LeakscanError
├── UsageError          bad command-line value
├── ConfigError         bad configuration file or key
├── RuleFileError       bad rule file (collects every problem found)
├── BaselineError       unreadable or malformed baseline
└── InputError          a path that could not be read at all
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit-code contract of every command."""

    CLEAN = 0
    FINDINGS = 1
    ERROR = 2
    INTERRUPTED = 130


class LeakscanError(Exception):
    """Base class: the message is shown to the user as one line."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(LeakscanError):
    """A command-line value that cannot be used."""


class ConfigError(LeakscanError):
    """A configuration file or key that cannot be used."""


class RuleFileError(LeakscanError):
    """One or more problems in rule files, each naming file, rule and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class BaselineError(LeakscanError):
    """A baseline file that cannot be used."""


class InputError(LeakscanError):
    """An input path that could not be read."""
