"""Random gitignore patterns and file names, for the tests that check leakscan's ignore files
against git itself and against the patterns taken one by one."""

from __future__ import annotations

import random

# Pieces of a pattern between slashes: wildcards, classes and ranges, escapes, `**`, a space.
GLOB_PARTS = ["a", "b", "ab", "*", "?", "a*", "*b", "a?b", "[ab]", "[a-b]", "[!a]", "[!b]", "**"]
GLOB_PARTS += ["***", "*.log", "\\*", "\\#a", "\\!a", "a b", "x\\*", "[]a]", "[!]a]", "[[:alpha:]]"]
GLOB_PARTS += ["a/**/b"]
# Folder and file names those pieces match, or nearly do.
NAMES = ["a", "b", "ab", "ba", "aab", "a*b", "x.log", "ab.log", "#a", "!a", "a b", "x*", "a]"]


def random_glob(rng: random.Random) -> str:
    """One ignore-file line: maybe negated, maybe anchored, maybe folder-only or with a trailing space."""
    parts = "/".join(rng.choice(GLOB_PARTS) for _ in range(rng.randint(1, 3)))
    return f"{rng.choice(['', '', '!'])}{rng.choice(['', '/'])}{parts}{rng.choice(['', '', '/', ' '])}"
