"""The console entry point: ``leakscan --version`` is answered before the command line (click,
the reports, the models) is imported; everything else goes to ``leakscan.cli``."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command line (``leakscan`` and ``python -m leakscan``)."""
    if sys.argv[1:] == ["--version"]:
        from leakscan import __version__

        sys.stdout.write(f"leakscan, version {__version__}\n")
        return 0
    from leakscan.cli import main as cli_main

    return cli_main()
