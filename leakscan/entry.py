"""The console entry point: ``leakscan --version`` is answered before the command line (click,
the reports, the models) is imported; everything else goes to ``leakscan.cli``."""

from __future__ import annotations

import sys
from typing import NoReturn


def main() -> int:
    """Run the command line; the exit code."""
    if sys.argv[1:] == ["--version"]:
        from leakscan import __version__

        sys.stdout.write(f"leakscan, version {__version__}\n")
        return 0
    from leakscan.cli import main as cli_main

    return cli_main()


def run() -> NoReturn:
    """``leakscan`` and ``python -m leakscan``: ``main``, then exit without the interpreter's
    teardown (freeing every module and object: ~15 ms, a tenth of a pre-commit hook's run) once
    the standard streams are flushed and the exit handlers have run. With another thread still
    running, or a stream that cannot be flushed, the interpreter exits as usual."""
    code = main()
    threading = sys.modules.get("threading")
    if threading is None or threading.active_count() == 1:
        import atexit
        import os

        try:
            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports nothing more
            raise SystemExit(code) from None
        os._exit(code)
    raise SystemExit(code)
