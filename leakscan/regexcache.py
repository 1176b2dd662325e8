"""Built-in rules' regexes, kept compiled between runs: ``regex`` parses a pattern in Python and
then builds it in its C engine from a program (a list of opcodes, group tables, a required
string). The program is stored in the cache folder (``leakscan.hscache``), so a later run builds
the pattern in the C engine straight away: it neither imports the ``regex`` module's Python half
(~14 ms) nor parses the pattern again (0.5–6 ms a rule). The same arguments give the same
pattern object, so matches are the same.

The cache file's name holds a hash of the pattern and of the ``regex`` installation's files (size
and modification time), so another ``regex`` release never reads a program it did not write. A
missing, damaged or unreadable file, or a ``regex`` whose engine cannot be loaded this way,
only means compiling as usual."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from leakscan import hscache

if TYPE_CHECKING:
    import regex

ENGINE = "regex._regex"
_FILES = ("_regex_core.py", "_main.py")
_CAPTURE = threading.Lock()


def compile_cached(pattern: bytes) -> regex.Pattern[bytes]:
    """``regex.compile(pattern)``, built from the cached program when there is one."""
    name = _cache_name(pattern)
    if name is not None:
        payload = hscache.read(name)
        engine = _engine() if payload is not None else None
        if engine is not None and payload is not None:
            try:
                args = marshal.loads(payload)
                compiled: regex.Pattern[bytes] = engine.compile(*args)
                if compiled.pattern == pattern:
                    return compiled
            except (ValueError, TypeError, EOFError, OverflowError, SystemError, RuntimeError):
                pass  # another layout of arguments: compiled again below
    compiled, args = _compile_recording(pattern)
    if name is not None and args is not None:
        try:
            hscache.write(name, marshal.dumps(args))
        except ValueError:  # not marshallable: nothing kept
            pass
    return compiled


def _compile_recording(pattern: bytes) -> tuple[regex.Pattern[bytes], tuple[Any, ...] | None]:
    """Compile with ``regex`` and record the arguments its C engine was built from; None when
    this ``regex`` builds patterns some other way, or the program depends on the locale."""
    import regex

    try:
        from regex import _main

        real = _main._regex  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # a layout this does not know: compiled, not kept
        return regex.compile(pattern), None
    calls: list[tuple[Any, ...]] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def compile(*args: Any) -> Any:
            calls.append(args)
            return real.compile(*args)

    with _CAPTURE:
        _main._regex = Recorder()  # type: ignore[attr-defined,assignment]
        try:
            compiled = regex.compile(pattern, cache_pattern=False)
        finally:
            _main._regex = real  # type: ignore[attr-defined]
    recorded = [args for args in calls if args and args[0] == pattern]
    if len(recorded) != 1 or recorded[0][1] & regex.LOCALE:
        return compiled, None
    # Flags come as ``RegexFlag``: kept as the ints they are, so marshal can store them.
    return compiled, tuple(int(arg) if isinstance(arg, regex.RegexFlag) else arg for arg in recorded[0])


@cache
def _installation() -> tuple[str, bytes] | None:
    """The path of ``regex``'s C engine and a fingerprint of the package's files, found without
    importing it."""
    try:
        spec = importlib.util.find_spec("regex")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    folder = os.path.dirname(spec.origin)
    engine = f"_regex{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    parts = []
    for file in (engine, *_FILES):
        try:
            stat = os.stat(os.path.join(folder, file))
        except OSError:
            return None
        parts.append(b"%s:%d:%d" % (file.encode(), stat.st_size, stat.st_mtime_ns))
    return os.path.join(folder, engine), b"\0".join(parts)


def _cache_name(pattern: bytes) -> str | None:
    installation = _installation()
    if installation is None:
        return None
    digest = hashlib.sha256(b"%s\0%d:%s" % (installation[1], len(pattern), pattern)).hexdigest()
    return f"regex-{digest[:32]}.bin"


def _engine() -> Any:
    """``regex``'s C engine, loaded on its own when the package is not imported yet."""
    loaded = sys.modules.get(ENGINE)
    if loaded is not None:
        return loaded
    installation = _installation()
    if installation is None:
        return None
    spec = importlib.util.spec_from_file_location(ENGINE, installation[0])
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError):
        return None
    return sys.modules.setdefault(ENGINE, module)
