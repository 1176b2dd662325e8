"""The one gitignore matcher: an ignore file (or a list of ``--exclude`` patterns) compiled once.

Matching a path costs a few dictionary look-ups and one regex match, whatever the number of
patterns: plain names and ``*.suffix`` patterns go into dictionaries, every other pattern into
one combined regex. Folders above a path are the caller's business (a path below an ignored
folder is ignored, as in git); this module decides one path against one file's patterns.
Invalid lines are left out with a note, as git does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from msgspec import Struct, field

from leakscan.errors import UsageError

# No path is longer than this (PATH_MAX); a longer pattern is left out with a note.
MAX_PATTERN_CHARS = 4096


class PatternError(ValueError):
    """A pattern git would not accept (or one that can match nothing)."""


class Pattern(Struct, frozen=True):
    """One parsed line: regex body (full match), whether it negates, and how it is anchored."""

    index: int
    body: str
    negate: bool
    dir_only: bool
    anchored: bool
    literal: str | None  # the whole pattern when it has no wildcard
    suffix: str | None  # for ``*.ext``-style patterns: the literal after the star
    prefix: str = ""  # the literal text before the first wildcard: every match starts with it


def parse_line(line: str, index: int = 0) -> Pattern | None:
    """The pattern on one ignore-file line; None for blank lines and comments."""
    text = line.rstrip("\r\n")
    text = _strip_trailing_spaces(text)
    if not text or text.startswith("#"):
        return None
    if len(text) > MAX_PATTERN_CHARS:
        raise PatternError(f"longer than {MAX_PATTERN_CHARS} characters")
    negate = text.startswith("!")
    if negate:
        text = text[1:]
    if _escaped(text, len(text)):
        raise PatternError("ends with an unescaped backslash")
    dir_only = text.endswith("/")
    if dir_only:
        text = text.rstrip("/")
    if not text:
        raise PatternError("empty pattern")
    anchored = "/" in text
    text = text.lstrip("/")
    if not text:
        raise PatternError("empty pattern")
    body, literal, suffix, prefix = _translate(text)
    if "[" in text:  # only a character class can give a body the regex compiler refuses
        try:
            re.compile(body)
        except (re.error, RecursionError, OverflowError) as exc:
            raise PatternError(str(exc)) from exc
    return Pattern(index, body, negate, dir_only, anchored, literal, suffix, prefix)


def _strip_trailing_spaces(text: str) -> str:
    end = len(text)
    while end and text[end - 1] == " " and not _escaped(text, end - 1):
        end -= 1
    return text[:end]


def _escaped(text: str, at: int) -> bool:
    backslashes = 0
    while at - backslashes - 1 >= 0 and text[at - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _translate(text: str) -> tuple[str, str | None, str | None, str]:
    """Regex body for a gitignore glob (wildmatch with FNM_PATHNAME), its literal forms, and
    the literal text before its first wildcard."""
    out: list[str] = []
    plain: list[str] = []
    wild = False
    prefix = ""
    star_prefix = text.startswith("*") and not text.startswith("**")
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if not wild and c in "*?[":  # the first wildcard: what came before is every match's start
            prefix = "".join(plain)
        if c == "\\":
            i += 1
            if i == n:
                raise PatternError("ends with an unescaped backslash")
            out.append(re.escape(text[i]))
            plain.append(text[i])
        elif c == "*":
            wild = True
            j = i
            while j < n and text[j] == "*":
                j += 1
            double = j - i >= 2
            at_start = i == 0 or text[i - 1] == "/"
            at_end = j == n or text[j] == "/"
            if double and at_start and at_end:
                if j == n:
                    out.append(".+")  # `a/**`: everything inside
                else:
                    out.append("(?:.*/)?")  # `**/a`, `a/**/b`: zero or more folders
                    j += 1
            else:
                out.append("[^/]*")
            i = j
            continue
        elif c == "?":
            wild = True
            out.append("[^/]")
        elif c == "[":
            end = _class_end(text, i)
            if end < 0:
                raise PatternError("unclosed [ (git never matches such a pattern)")
            wild = True
            out.append(_char_class(text[i + 1 : end]))
            i = end
        else:
            out.append(re.escape(c))
            plain.append(c)
        i += 1
    body = "".join(out)
    literal = None if wild else "".join(plain)
    suffix = None
    if star_prefix and "/" not in text:
        rest = text[1:]
        if rest and not any(ch in rest for ch in "*?[\\"):
            suffix = rest
    return body, literal, suffix, prefix if wild else "".join(plain)


def _class_end(text: str, start: int) -> int:
    i = start + 1
    if i < len(text) and text[i] in "!^":
        i += 1
    if i < len(text) and text[i] == "]":
        i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith("[:", i) and (close := text.find(":]", i + 2)) > 0:
            i = close + 2
            continue
        if text[i] == "]":
            return i
        i += 1
    return -1


def _char_class(inner: str) -> str:
    """A bracket expression as a regex class: ranges, escapes and POSIX classes; ``!`` or ``^``
    negates (never matching ``/``). Each character is escaped, so none of them (``-``, ``&``,
    ``~``, ``|``, ``[``) can read as a set operation to the regex compiler."""
    negate = inner[:1] in ("!", "^")
    if negate:
        inner = inner[1:]
    parts: list[str] = []
    i = 0
    while i < len(inner):
        if inner.startswith("[:", i) and (close := inner.find(":]", i + 2)) > 0:
            parts.append(_posix_class(inner[i + 2 : close]))
            i = close + 2
            continue
        low, i = _class_char(inner, i)
        if i + 1 < len(inner) and inner[i] == "-":  # a range, unless the hyphen ends the class
            high, i = _class_char(inner, i + 1)
            if low > high:
                raise PatternError(f"bad character range {low}-{high}")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
        else:
            parts.append(re.escape(low))
    return ("[^/" if negate else "[") + "".join(parts) + "]" if parts else "(?!)"


def _class_char(inner: str, at: int) -> tuple[str, int]:
    """The character at ``at`` in a bracket expression (a backslash escapes the next one), and
    where the one after it starts."""
    if inner[at] == "\\" and at + 1 < len(inner):
        return inner[at + 1], at + 2
    return inner[at], at + 1


_POSIX = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "lower": "a-z",
    "upper": "A-Z",
    "space": r"\s",
    "xdigit": "0-9a-fA-F",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}


def _posix_class(name: str) -> str:
    if name not in _POSIX:
        raise PatternError(f"unknown character class [:{name}:]")
    return _POSIX[name]


# Names whose unanchored decision a matcher remembers at most (then it starts afresh).
MAX_NAMES_KEPT = 1 << 16


class _Lookup(Struct):
    """Last pattern index per key, for files (any pattern) and folders (dir-only ones too)."""

    any: dict[str, int] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, pattern: Pattern) -> None:
        (self.dirs if pattern.dir_only else self.any)[key] = pattern.index

    def get(self, key: str, is_dir: bool) -> int:
        best = self.any.get(key, -1)
        return max(best, self.dirs.get(key, -1)) if is_dir else best


class IgnoreMatcher:
    """The patterns of one ignore file, compiled into one matcher."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = list(patterns)
        self._names = _Lookup()  # unanchored, no wildcard: the basename
        self._paths = _Lookup()  # anchored, no wildcard: the whole path
        self._suffixes = _Lookup()  # `*.ext`: a suffix of the basename
        self._suffix_lengths: set[int] = set()
        names_re: list[Pattern] = []
        paths_re: list[Pattern] = []
        for pattern in self.patterns:
            if pattern.literal is not None:
                (self._paths if pattern.anchored else self._names).add(pattern.literal, pattern)
            elif pattern.suffix is not None and not pattern.anchored:  # `/*.ext` is the root's only
                self._suffixes.add(pattern.suffix, pattern)
                self._suffix_lengths.add(len(pattern.suffix))
            else:
                (paths_re if pattern.anchored else names_re).append(pattern)
        self._suffix_any = (*self._suffixes.any, *self._suffixes.dirs)
        self._name_globs = _Globs.of(names_re)
        self._path_globs = _Globs.of(paths_re)
        # A path can match an anchored glob only if it starts with that glob's literal prefix
        # (most paths of a tree start with none of them; an empty prefix lets every path in).
        self._path_prefixes = tuple({pattern.prefix for pattern in paths_re})
        self._by_name: dict[tuple[str, bool], int] = {}

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def combined_regexes(self) -> int:
        """How many combined regexes there are (0 to 4: names and paths, for any entry and for
        folders only), whatever the number of patterns."""
        return sum(globs.regexes() for globs in (self._name_globs, self._path_globs) if globs is not None)

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True if ``path`` (relative to the ignore file's folder) is ignored, False if a
        ``!pattern`` re-includes it, None when no pattern matches."""
        # Runs for every entry of a walk below an ignore file: the lookups are written out, and
        # what the unanchored patterns say of a name is remembered (names repeat across folders).
        name = path[path.rfind("/") + 1 :]
        named = self._by_name.get((name, is_dir))
        if named is None:
            named = self._by_name[(name, is_dir)] = self._name_match(name, is_dir)
            if len(self._by_name) > MAX_NAMES_KEPT:
                self._by_name.clear()
        paths = self._paths
        best = max(named, paths.any.get(path, -1))
        if is_dir:
            best = max(best, paths.dirs.get(path, -1))
        if self._path_globs is not None and path.startswith(self._path_prefixes):
            best = max(best, self._path_globs.last_match(path, is_dir))
        return None if best < 0 else not self.patterns[best].negate

    def _name_match(self, name: str, is_dir: bool) -> int:
        """The index of the last unanchored pattern (a name, ``*.ext``, a glob) matching ``name``."""
        names = self._names
        best = names.any.get(name, -1)
        if is_dir:
            best = max(best, names.dirs.get(name, -1))
        if name.endswith(self._suffix_any):  # most names end with none of them (or there are none)
            suffixes = self._suffixes
            for length in self._suffix_lengths:
                if length <= len(name):  # `*` matches the empty string too
                    best = max(best, suffixes.get(name[-length:], is_dir))
        if self._name_globs is not None:
            best = max(best, self._name_globs.last_match(name, is_dir))
        return best

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` itself matches (a ``!`` pattern matching last means no)."""
        return self.decide(path, is_dir) is True


class _Combined:
    """Glob patterns as one regex without groups (so the regex engine keeps its fast paths:
    common prefixes, first-character checks), and, when it matches, a bisection over halves of
    the patterns (compiled on first use) to find the last matching one in log2(n) steps."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        newest_first = sorted(patterns, key=lambda p: -p.index)
        self.order = tuple(p.index for p in newest_first)
        self.bodies = tuple(p.body for p in newest_first)
        self._nodes: dict[tuple[int, int], re.Pattern[str]] = {}
        self.root = self._node(0, len(self.bodies))

    def _node(self, lo: int, hi: int) -> re.Pattern[str]:
        node = self._nodes.get((lo, hi))
        if node is None:
            node = self._nodes[(lo, hi)] = re.compile("(?:" + "|".join(self.bodies[lo:hi]) + ")")
        return node

    def last_match(self, text: str) -> int:
        """The index of the last pattern that matches ``text`` in full, or -1."""
        if self.root.fullmatch(text) is None:
            return -1
        lo, hi = 0, len(self.bodies)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._node(lo, mid).fullmatch(text) is not None:
                hi = mid  # a newer pattern matches
            else:
                lo = mid
        return self.order[lo]


def _combine(patterns: Sequence[Pattern]) -> _Combined | None:
    return _Combined(patterns) if patterns else None


class _Globs:
    """The glob patterns of one kind (names or anchored paths): those for any entry and the
    folder-only ones (``pattern/``) as one combined regex each. A file never runs the second;
    a folder runs both (its path is matched as it is: a folder ``a`` is no match for ``a/*``)."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.any = _combine([pattern for pattern in patterns if not pattern.dir_only])
        self.dirs = _combine([pattern for pattern in patterns if pattern.dir_only])

    @classmethod
    def of(cls, patterns: Sequence[Pattern]) -> _Globs | None:
        return cls(patterns) if patterns else None

    def regexes(self) -> int:
        return (self.any is not None) + (self.dirs is not None)

    def last_match(self, text: str, is_dir: bool) -> int:
        """The index of the last pattern matching ``text`` in full (folder-only ones only when
        it is a folder), or -1."""
        best = -1 if self.any is None else self.any.last_match(text)
        if is_dir and self.dirs is not None:
            best = max(best, self.dirs.last_match(text))
        return best


def compile_lines(lines: Iterable[str], source: str) -> tuple[IgnoreMatcher, list[str]]:
    """A matcher for ``lines``, and a note for each invalid line left out (``source:line:``)."""
    return compile_files([(source, lines)])


def compile_files(files: Iterable[tuple[str, Iterable[str]]]) -> tuple[IgnoreMatcher, list[str]]:
    """One matcher for the lines of several files read in order (a folder's ignore files)."""
    patterns: list[Pattern] = []
    notes: list[str] = []
    for source, lines in files:
        for number, line in enumerate(lines, 1):
            if number == 1:
                line = line.removeprefix("\ufeff")  # git skips a UTF-8 byte order mark
            try:
                pattern = parse_line(line, len(patterns))
            except PatternError as exc:
                shown = line if len(line) <= 60 else line[:60] + "…"
                notes.append(f"{source}:{number}: invalid pattern {shown!r} left out ({exc})")
                continue
            if pattern is not None:
                patterns.append(pattern)
    return IgnoreMatcher(patterns), notes


def compile_exclude(patterns: Sequence[str], what: str = "--exclude") -> IgnoreMatcher:
    """A matcher for user-given patterns; an invalid one is a usage error naming it."""
    parsed: list[Pattern] = []
    for text in patterns:
        try:
            pattern = parse_line(text, len(parsed))
        except PatternError as exc:
            raise UsageError(f"{what}: bad pattern {text!r}: {exc}") from exc
        if pattern is None:
            raise UsageError(f"{what}: bad pattern {text!r}: matches nothing (empty or a comment)")
        parsed.append(pattern)
    return IgnoreMatcher(parsed)
