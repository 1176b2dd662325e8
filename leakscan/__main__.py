"""``python -m leakscan`` → the command line."""

from leakscan.entry import run

run()
