"""What is compiled once per set of rules, kept on disk between runs: the Hyperscan database of
the keyword pass (the rule keywords plus the extract stage's ~1,900 trigger literals; ~30 ms to
compile, ~0.1 ms to load back), and the trigger literals themselves (~5 ms to derive).

Each is a file under ``$XDG_CACHE_HOME/leakscan`` (``~/.cache/leakscan`` when that is not set),
named by a hash of everything it is made from (a database: its literals, their flags, the
Hyperscan module's version and the machine type), with a SHA-256 of its bytes in front. A file
that is missing, damaged, or made by another Hyperscan build is ignored and rewritten; a folder
that cannot be written only means compiling every time. Nothing here ever fails a scan.

Beside them, ``Scratch``: the scratch space a database is scanned with, kept per thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

MAGIC = b"leakscan-hyperscan-db 1\n"
_DIGEST = hashlib.sha256().digest_size


def cache_folder() -> str | None:
    """``$XDG_CACHE_HOME/leakscan`` (an absolute path only, as the XDG spec says), else
    ``~/.cache/leakscan``; None when there is no home folder to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "leakscan")


class Scratch:
    """Hyperscan scratch space for one database, made per thread and per process: a scratch is
    used by one scan at a time (two threads sharing one fail with ``ScratchInUseError``), and
    forked workers make their own."""

    def __init__(self, module: Any, db: Any) -> None:
        self._module = module
        self._db = db
        self._local = threading.local()

    def get(self) -> Any:
        """This thread's scratch (made on its first use in this process)."""
        local = self._local
        if getattr(local, "pid", -1) != os.getpid():
            local.scratch, local.pid = self._module.Scratch(self._db), os.getpid()
        return local.scratch


def database(module: Any, literals: Sequence[tuple[bytes, bool]]) -> Any:
    """A block-mode database matching each literal (caseless where flagged; match id = its
    index), loaded from the cache when it holds one, else compiled and stored there."""
    name = f"hyperscan-{_key(module, literals)}.db"
    payload = read(name)
    if payload is not None:
        try:
            return module.loadb(payload, module.HS_MODE_BLOCK)
        except module.error:  # another Hyperscan version or CPU: compile again
            pass
    import regex

    db = module.Database(mode=module.HS_MODE_BLOCK)
    db.compile(
        expressions=[regex.escape(literal) for literal, _ in literals],
        ids=list(range(len(literals))),
        elements=len(literals),
        flags=[module.HS_FLAG_CASELESS if caseless else 0 for _, caseless in literals],
    )
    try:
        write(name, module.dumpb(db))
    except module.error:
        pass
    return db


def _key(module: Any, literals: Sequence[tuple[bytes, bool]]) -> str:
    parts = [f"{getattr(module, '__version__', '?')}\0{os.uname().machine}\0".encode()]
    # Each literal as length, case flag, bytes: no two lists of literals give the same text.
    parts.extend(b"%d%s%s" % (len(lit), b"i" if caseless else b"c", lit) for lit, caseless in literals)
    return hashlib.sha256(b"".join(parts)).hexdigest()[:32]


def read(name: str) -> bytes | None:
    """The payload of cache file ``name``; None when there is none, or it is damaged."""
    folder = cache_folder()
    if folder is None:
        return None
    try:
        with open(os.path.join(folder, name), "rb") as file:
            data = file.read()
    except OSError:
        return None
    header = len(MAGIC) + _DIGEST
    payload = data[header:]
    if not data.startswith(MAGIC) or data[len(MAGIC) : header] != hashlib.sha256(payload).digest():
        return None
    return payload


def write(name: str, payload: bytes) -> None:
    """Store cache file ``name`` atomically (a reader sees the old file or the whole new one);
    errors are ignored."""
    folder = cache_folder()
    if folder is None:
        return
    path = os.path.join(folder, name)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
