"""Rule files: find ``rules/*.toml``, check them as written, compile them to ``Rule``."""

from __future__ import annotations

import hashlib
import marshal
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from leakscan import hscache
from leakscan.checksums import SCHEMES
from leakscan.errors import RuleFileError
from leakscan.models import Severity
from leakscan.patterns import measure

if TYPE_CHECKING:
    import regex  # imported where a pattern is compiled: a scan with no keyword hit needs none

RULE_FILE_VERSION = 1
KNOWN_VALIDATORS = frozenset({"sonarqube-cloud", "sonarqube-server"})
CHECKSUM_SCHEMES = frozenset({"none", *SCHEMES})
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Bounds on a regex before it is compiled (see leakscan.patterns): about 0.1 s of regex.compile.
MAX_PATTERN_SIZE = 100_000
MAX_PATTERN_NESTING = 50
MAX_WINDOW = 1024 * 1024


class Checksum(Struct, frozen=True):
    """A checksum scheme and its parameters (``crc32-base62``: body = random part + checksum)."""

    scheme: str = "none"
    random_length: int = 0
    checksum_length: int = 0


class Plausibility(Struct, frozen=True):
    """Offline thresholds below which a token body is not what a random generator makes."""

    min_entropy: float = 0.0
    max_run: int = 0
    max_sequence: int = 0
    max_repeat: int = 0
    placeholder_words: tuple[str, ...] = ()
    max_steps: int = 0


class Example(Struct, frozen=True):
    """A rule example: positive ones carry the exact secret that must be found."""

    text: str
    secret: str | None
    path: str
    reason: str = ""


class LazyPattern:
    """A built-in rule's regex, compiled the first time it is used (when one of its keywords
    first hits; built from its cached program after the first run, ``leakscan.regexcache``): a
    scan pays only for the rules its input needs. The built-in rule files are checked by the test
    suite; rule files a user gives are compiled (and checked) as they load."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: bytes) -> None:
        self.pattern = pattern
        self._compiled: regex.Pattern[bytes] | None = None

    def compiled(self) -> regex.Pattern[bytes]:
        if self._compiled is None:
            from leakscan.regexcache import compile_cached

            self._compiled = compile_cached(self.pattern)
        return self._compiled

    @property
    def flags(self) -> int:
        return self.compiled().flags

    @property
    def groupindex(self) -> Mapping[str, int]:
        return self.compiled().groupindex

    def finditer(
        self, string: bytes, pos: int = 0, endpos: int | None = None, *, timeout: float | None = None
    ) -> Iterator[regex.Match[bytes]]:
        """``regex.Pattern.finditer``; compiling does not count against ``timeout``."""
        return self.compiled().finditer(string, pos=pos, endpos=endpos, timeout=timeout)


class Rule(Struct, frozen=True, eq=False):
    """A compiled rule, ready for the detector."""

    id: str
    name: str
    key: str | None
    severity: Severity
    message: str
    remediation: str
    keywords: tuple[bytes, ...]
    keywords_ignore_case: bool
    pattern: regex.Pattern[bytes] | LazyPattern
    secret_group: str
    prefix_length: int
    checksum: Checksum
    plausibility: Plausibility
    deny: tuple[regex.Pattern[str], ...]
    known_examples_sha256: frozenset[str]
    validation: str | None
    examples: tuple[Example, ...]
    negative_examples: tuple[Example, ...]
    source: str
    window: int = 0

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and other.id == self.id


# Field name -> (accepted types, required). Rule files are checked against this as written.
_RULE_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "name": ((str,), True),
    "key": ((str,), False),
    "severity": ((str,), True),
    "message": ((str,), True),
    "remediation": ((str,), True),
    "keywords": ((list,), True),
    "keywords_ignore_case": ((bool,), False),
    "pattern": ((str,), True),
    "secret_group": ((str,), False),
    "prefix_length": ((int,), False),
    "checksum": ((dict,), False),
    "plausibility": ((dict,), False),
    "deny": ((list,), False),
    "known_examples_sha256": ((list,), False),
    "validation": ((str,), False),
    "window": ((int,), False),
    "examples": ((list,), True),
    "negative_examples": ((list,), True),
}
_CHECKSUM_FIELDS = {"scheme": str, "random_length": int, "checksum_length": int}
_PLAUSIBILITY_FIELDS = {
    "min_entropy": (int, float),
    "max_run": int,
    "max_sequence": int,
    "max_repeat": int,
    "max_steps": int,
    "placeholder_words": list,
}
_EXAMPLE_FIELDS = {"text": str, "secret": str, "path": str}
_NEGATIVE_FIELDS = {"text": str, "reason": str, "path": str}


def iter_builtin_rule_files() -> Iterator[tuple[str, str]]:
    """Yield (name, text) of every rule file shipped with the package: read from its folder
    (``importlib.resources``, 6 ms to import, only when the package is not a folder, e.g. zipped)."""
    import importlib

    folder = os.path.dirname(importlib.import_module("leakscan.rules_data").__file__ or "")
    if not os.path.isdir(folder):
        from importlib import resources

        root = resources.files("leakscan.rules_data")
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                yield f"rules/{entry.name}", entry.read_text(encoding="utf-8")
        return
    for name in sorted(os.listdir(folder)):
        if name.endswith(".toml"):
            with open(os.path.join(folder, name), encoding="utf-8") as file:
                yield f"rules/{name}", file.read()


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand files and folders of rule files, in a stable order."""
    for path in paths:
        if path.is_dir():
            files = sorted(path.glob("*.toml"))
            if not files:
                raise RuleFileError([f"{path}: no rule files (*.toml) in this folder"])
            yield from files
        elif path.is_file():
            yield path
        else:
            raise RuleFileError([f"{path}: no such rule file or folder"])


def load_rules(
    extra: Sequence[Path] = (),
    *,
    builtin: bool = True,
    disable: Iterable[str] = (),
) -> list[Rule]:
    """Load the built-in rules plus extra rule files or folders; raise on any problem.

    Examples are not run here (this module never runs the detector):
    ``leakscan.examples.load_checked_rules`` runs those of the extra rule files too.
    """
    sources: list[tuple[str, str, bool]] = (
        [(name, text, True) for name, text in iter_builtin_rule_files()] if builtin else []
    )
    for path in iter_rule_files(extra):
        try:
            sources.append((str(path), path.read_text(encoding="utf-8"), False))
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleFileError([f"{path}: cannot read rule file: {exc}"]) from exc
    rules: list[Rule] = []
    problems: list[str] = []
    for name, text, lazy in sources:
        try:
            rules.extend(_parsed(text, name, lazy))
        except RuleFileError as exc:
            problems.extend(exc.problems)
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            problems.append(
                f"{rule.source}: rule '{rule.id}': field 'id': already defined in {seen[rule.id]}"
            )
        seen[rule.id] = rule.source
    disabled = set(disable)
    unknown = disabled - seen.keys()
    if unknown:
        problems.append(f"disable_rules: unknown rule id(s): {', '.join(sorted(unknown))}")
    if problems:
        raise RuleFileError(problems)
    return [rule for rule in rules if rule.id not in disabled]


# Rule files parsed in this process, by (text, name, lazy): a command may load the rules twice
# (checking --disable-rule, then scanning), and rules are immutable.
_PARSED: dict[tuple[str, str, bool], tuple[Rule, ...]] = {}


def _parsed(text: str, source: str, lazy: bool) -> tuple[Rule, ...]:
    found = _PARSED.get((text, source, lazy))
    if found is None:
        found = _PARSED[(text, source, lazy)] = tuple(parse_rules(text, source, lazy=lazy))
    return found


def parse_rules(text: str, source: str, *, lazy: bool = False) -> list[Rule]:
    """Parse one rule file's text; collect every problem, each naming file, rule and field.
    ``lazy``: leave each ``pattern`` to be compiled on first use (``LazyPattern``; for the
    built-in rule files, which the test suite checks), after the same checks on its text."""
    try:
        data = _toml_cached(text) if lazy else _toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError (tomllib is imported only to parse)
        raise RuleFileError([f"{source}: invalid TOML: {exc}"]) from exc
    except RecursionError as exc:
        raise RuleFileError([f"{source}: invalid TOML: arrays or tables nested too deeply"]) from exc
    problems: list[str] = []
    unknown_top = set(data) - {"version", "rules"}
    if unknown_top:
        problems.append(f"{source}: unknown top-level key(s): {', '.join(sorted(unknown_top))}")
    if data.get("version") != RULE_FILE_VERSION:
        problems.append(f"{source}: field 'version': must be {RULE_FILE_VERSION}")
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{source}: field 'rules': must be a non-empty array of tables")
        raise RuleFileError(problems)
    rules: list[Rule] = []
    for index, entry in enumerate(entries):
        where = f"{source}: rule #{index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            where = f"{source}: rule '{entry['id']}'"
        rule = _compile_rule(entry, where, source, problems, lazy)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise RuleFileError(problems)
    return rules


def _toml(text: str) -> dict[str, Any]:
    import tomllib  # ~2 ms to import: only when a rule file is not in the cache

    return tomllib.loads(text)


def _toml_cached(text: str) -> dict[str, Any]:
    """A built-in rule file's TOML, kept in the cache (``leakscan.hscache``) under a hash of its
    text: parsing the built-in files takes ~3 ms, loading them back ~0.1 ms."""
    name = f"rules-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}.bin"
    payload = hscache.read(name)
    if payload is not None:
        try:
            data = marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            data = None
        if isinstance(data, dict):
            return data
    data = _toml(text)
    try:
        hscache.write(name, marshal.dumps(data))
    except ValueError:  # a value marshal cannot hold (a date): parsed every time
        pass
    return data


def _compile_rule(entry: object, where: str, source: str, problems: list[str], lazy: bool) -> Rule | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a table")
        return None
    before = len(problems)
    for key in sorted(set(entry) - _RULE_FIELDS.keys()):
        problems.append(f"{where}: unknown field '{key}'")
    for key, (types, required) in _RULE_FIELDS.items():
        if key not in entry:
            if required:
                problems.append(f"{where}: missing field '{key}'")
        elif not isinstance(entry[key], types) or isinstance(entry[key], bool) is not (bool in types):
            expected = " or ".join(t.__name__ for t in types)
            problems.append(f"{where}: field '{key}': expected {expected}")
    if len(problems) > before:
        return None

    rule_id: str = entry["id"]
    if not _ID.match(rule_id):
        problems.append(f"{where}: field 'id': must be kebab-case (a-z, 0-9, '-')")
    try:
        severity = Severity(entry["severity"])
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        problems.append(f"{where}: field 'severity': {entry['severity']!r} is not one of {allowed}")
        severity = Severity.HIGH
    keywords = entry["keywords"]
    if not keywords or not all(isinstance(k, str) and k for k in keywords):
        problems.append(f"{where}: field 'keywords': must be a non-empty list of non-empty strings")
        keywords = []
    elif any("\0" in k for k in keywords):
        problems.append(f"{where}: field 'keywords': must not contain a NUL character")
        keywords = []
    ignore_case = bool(entry.get("keywords_ignore_case", False))
    secret_group = entry.get("secret_group", "secret")
    pattern = _compile_pattern(entry["pattern"], secret_group, where, problems, lazy)
    checksum = _parse_checksum(entry.get("checksum", {}), where, problems)
    plausibility = _parse_plausibility(entry.get("plausibility", {}), where, problems)
    deny = []
    for value in entry.get("deny", []):
        if not isinstance(value, str):
            problems.append(f"{where}: field 'deny': expected strings, got {value!r}")
        elif (bound := _too_costly(value)) is not None:
            problems.append(f"{where}: field 'deny': regex {value[:80]!r}: {bound}")
        else:
            import regex

            try:
                deny.append(regex.compile(value))
            except regex.error as exc:
                problems.append(f"{where}: field 'deny': invalid regex {value!r}: {exc}")
    known = entry.get("known_examples_sha256", [])
    if not all(isinstance(h, str) and _SHA256.match(h) for h in known):
        problems.append(f"{where}: field 'known_examples_sha256': each must be 64 lowercase hex")
    validation = entry.get("validation")
    if validation is not None and validation not in KNOWN_VALIDATORS:
        problems.append(
            f"{where}: field 'validation': unknown validator {validation!r} "
            f"(known: {', '.join(sorted(KNOWN_VALIDATORS))})"
        )
    prefix_length = entry.get("prefix_length", 0)
    if prefix_length < 0:
        problems.append(f"{where}: field 'prefix_length': must be >= 0")
    window = entry.get("window")
    if window is not None and not 0 < window <= MAX_WINDOW:
        problems.append(f"{where}: field 'window': must be 1 to {MAX_WINDOW} bytes")
    examples = _parse_examples(entry["examples"], "examples", _EXAMPLE_FIELDS, where, problems)
    negatives = _parse_examples(
        entry["negative_examples"], "negative_examples", _NEGATIVE_FIELDS, where, problems
    )
    if not examples:
        problems.append(f"{where}: field 'examples': at least one positive example is required")
    if not negatives:
        problems.append(f"{where}: field 'negative_examples': at least one is required")
    lowered = [k.lower() for k in keywords] if ignore_case else keywords
    if len(problems) > before or pattern is None:
        return None
    return Rule(
        id=rule_id,
        name=entry["name"],
        key=entry.get("key"),
        severity=severity,
        message=entry["message"],
        remediation=entry["remediation"],
        keywords=tuple(k.encode() for k in lowered),
        keywords_ignore_case=ignore_case,
        pattern=pattern,
        secret_group=secret_group,
        prefix_length=prefix_length,
        checksum=checksum,
        plausibility=plausibility,
        deny=tuple(deny),
        known_examples_sha256=frozenset(known),
        validation=validation,
        examples=tuple(examples),
        negative_examples=tuple(negatives),
        source=source,
        window=window or _longest_match(entry["pattern"]),
    )


# A pattern is measured twice (its cost, then its longest match): once is enough.
_measure = lru_cache(maxsize=1024)(measure)


def _too_costly(text: str) -> str | None:
    """Why ``text`` would take too long to compile, or ``None``; checked before compiling."""
    size = _measure(text)
    if size.depth > MAX_PATTERN_NESTING:
        return f"groups nested {size.depth} deep (at most {MAX_PATTERN_NESTING})"
    if size.size > MAX_PATTERN_SIZE:
        return f"expands to {size.size} elements (at most {MAX_PATTERN_SIZE}; counted repeats multiply)"
    return None


def _longest_match(text: str) -> int:
    """The most bytes a match of ``text`` can span, or 0 when the pattern sets no bound."""
    longest = _measure(text).longest
    return int(longest) if longest <= MAX_WINDOW else 0


def _compile_pattern(
    text: str, group: str, where: str, problems: list[str], lazy: bool
) -> regex.Pattern[bytes] | LazyPattern | None:
    bound = _too_costly(text)
    if bound is not None:
        problems.append(f"{where}: field 'pattern': {bound}")
        return None
    if lazy:
        return LazyPattern(text.encode("utf-8"))
    import regex

    try:
        compiled = regex.compile(text.encode("utf-8"))
    except regex.error as exc:
        problems.append(f"{where}: field 'pattern': invalid regex: {exc}")
        return None
    if group not in compiled.groupindex:
        problems.append(f"{where}: field 'pattern': has no group named '{group}'")
        return None
    return compiled


def _check_table(
    table: object, fields: Mapping[str, Any], where: str, name: str, problems: list[str]
) -> dict[str, Any] | None:
    if not isinstance(table, dict):
        problems.append(f"{where}: field '{name}': must be a table")
        return None
    ok = True
    for key, value in table.items():
        if key not in fields:
            problems.append(f"{where}: field '{name}.{key}': unknown key")
            ok = False
        elif not isinstance(value, fields[key]) or isinstance(value, bool):
            problems.append(f"{where}: field '{name}.{key}': wrong type")
            ok = False
    return table if ok else None


def _parse_checksum(table: object, where: str, problems: list[str]) -> Checksum:
    checked = _check_table(table, _CHECKSUM_FIELDS, where, "checksum", problems)
    if checked is None:
        return Checksum()
    checksum = Checksum(**checked)
    if checksum.scheme not in CHECKSUM_SCHEMES:
        problems.append(
            f"{where}: field 'checksum.scheme': {checksum.scheme!r} is not one of "
            f"{', '.join(sorted(CHECKSUM_SCHEMES))}"
        )
    elif checksum.scheme != "none" and (checksum.random_length <= 0 or checksum.checksum_length <= 0):
        problems.append(f"{where}: field 'checksum': random_length and checksum_length must be > 0")
    return checksum


def _parse_plausibility(table: object, where: str, problems: list[str]) -> Plausibility:
    checked = _check_table(table, _PLAUSIBILITY_FIELDS, where, "plausibility", problems)
    if checked is None:
        return Plausibility()
    for key, value in checked.items():
        if key != "placeholder_words" and not (math.isfinite(value) and value >= 0):
            problems.append(f"{where}: field 'plausibility.{key}': must be a finite number >= 0, not {value}")
    words = checked.pop("placeholder_words", [])
    if not all(isinstance(w, str) and w for w in words):
        problems.append(f"{where}: field 'plausibility.placeholder_words': must be strings")
        words = []
    return Plausibility(placeholder_words=tuple(words), **checked)


def _parse_examples(
    items: list[object], name: str, fields: Mapping[str, type], where: str, problems: list[str]
) -> list[Example]:
    examples: list[Example] = []
    required = {"text", "secret"} if name == "examples" else {"text", "reason"}
    for n, item in enumerate(items, 1):
        label = f"{name}[{n}]"
        table = _check_table(item, fields, where, label, problems)
        if table is None:
            continue
        missing = required - table.keys()
        if missing:
            problems.append(f"{where}: field '{label}': missing {', '.join(sorted(missing))}")
            continue
        examples.append(
            Example(
                text=table["text"],
                secret=table.get("secret"),
                path=table.get("path", "example.txt"),
                reason=table.get("reason", ""),
            )
        )
    return examples
