"""``python -m leakscan`` → the command line."""

from leakscan.entry import main

raise SystemExit(main())
