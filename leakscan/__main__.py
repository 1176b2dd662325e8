"""``python -m leakscan`` → the command line."""

from leakscan.cli import main

raise SystemExit(main())
