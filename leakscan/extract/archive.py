"""Extractors: gzip, bzip2 and xz streams, the zip family, tar; in memory, within the limits.

Member names are only names: nothing is written to disk, so ``../../etc/passwd`` is harmless.
Streams are decompressed incrementally and stopped at the byte budget or when the compression
ratio gives a bomb away, so memory stays bounded whatever the input claims.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import Protocol

from leakscan.extract.layer import MIB, Budget, Layer, Skip, Step, StepKind
from leakscan.extract.sniff import is_text

READ_CHUNK = 1 * MIB
INPUT_CHUNK = 64 * 1024


class LimitHit(Exception):
    """A limit stopped an extraction; the message is the skip reason."""


class Corrupt(Exception):
    """The archive or stream is damaged or uses something unsupported."""


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Zlib:
    """zlib's decompressobj with the bz2/lzma interface (input kept inside, bounded output)."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(wbits=31)

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._obj.unconsumed_tail

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return self._obj.decompress(self._obj.unconsumed_tail + data, max(max_length, 0))


def _new_decompressor(kind: StepKind) -> _Decompressor:
    if kind is StepKind.GZIP:
        return _Zlib()
    if kind is StepKind.BZIP2:
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


_ERRORS: tuple[type[Exception], ...] = (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError)
_TAR_ERRORS: tuple[type[Exception], ...] = (tarfile.TarError, *_ERRORS)
_ZIP_OPEN_ERRORS: tuple[type[Exception], ...] = (zipfile.BadZipFile, *_ERRORS)
_ZIP_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    *_ERRORS,
)


class StreamReader(io.RawIOBase):
    """A file-like view of a decompressed stream that enforces the budget and the ratio.

    Concatenated members (``cat a.gz b.gz``, multi-stream bzip2/xz) are read one after another.
    """

    def __init__(self, kind: StepKind, data: bytes, budget: Budget) -> None:
        self.kind = kind
        self._data = data
        self._pos = 0
        self._budget = budget
        self._obj = _new_decompressor(kind)
        self._pending = b""
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._next(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def _next(self, size: int) -> bytes:
        while True:
            if self._obj.eof:
                rest = self._obj.unused_data + self._data[self._pos :]
                self._pos = len(self._data)
                if not rest.strip(b"\0"):
                    return b""
                self._data, self._pos = rest, 0
                self._obj = _new_decompressor(self.kind)
            needs_input = getattr(self._obj, "needs_input", True)
            feed = b""
            if needs_input:
                feed = self._data[self._pos : self._pos + INPUT_CHUNK]
                self._pos += len(feed)
                if not feed and not self._obj.eof:
                    raise Corrupt(f"truncated {self.kind} stream")
            try:
                out = self._obj.decompress(feed, size)
            except _ERRORS as exc:
                raise Corrupt(f"corrupt {self.kind} stream: {exc}") from exc
            if out:
                self._account(len(out))
                return out

    def _account(self, size: int) -> None:
        self.produced += size
        limits = self._budget.limits
        if not self._budget.take(size):
            raise LimitHit(f"decompression limit ({limits.max_bytes} bytes per input)")
        consumed = max(self._pos, 1)
        if self.produced > limits.ratio_floor and self.produced > limits.max_ratio * consumed:
            raise LimitHit(f"compression ratio over {limits.max_ratio} (zip bomb?)")

    def read_all(self) -> bytes:
        chunks = []
        while chunk := self._next(READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)


def iter_stream(
    kind: StepKind, data: bytes, steps: tuple[Step, ...], budget: Budget
) -> Iterator[Layer | Skip]:
    """The content of a gzip/bzip2/xz stream: one layer, or the members of the tar it holds."""
    here = (*steps, Step(kind, start=0, end=len(data)))
    reader = StreamReader(kind, data, budget)
    try:
        head = _read_at_least(reader, 512)
        if len(head) >= 512 and head[257:262] == b"ustar":
            yield from iter_tar(io.BufferedReader(_Prefixed(head, reader)), here, budget, counted=True)
            return
        payload = head + reader.read_all()
    except LimitHit as exc:
        yield Skip(here, str(exc))
        return
    except Corrupt as exc:
        yield Skip(here, str(exc))
        return
    yield Layer(here, payload, is_text(payload))


def _read_at_least(reader: StreamReader, size: int) -> bytes:
    head = b""
    while len(head) < size and (chunk := reader._next(size - len(head))):
        head += chunk
    return head


class _Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream."""

    def __init__(self, head: bytes, reader: StreamReader) -> None:
        self._head = head
        self._reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        return self._reader.readinto(buffer)


def iter_tar(
    fileobj: io.BufferedIOBase, steps: tuple[Step, ...], budget: Budget, *, counted: bool = False
) -> Iterator[Layer | Skip]:
    """Regular-file members of a tar read as a stream (links, folders and devices have no content).
    ``counted``: the stream already charges what it produces to the budget."""
    opened = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as archive:
            for member in archive:
                if not member.isreg():
                    continue
                here = (*steps, Step(StepKind.TAR, member.name))
                if not budget.take_member():
                    yield Skip(steps, f"member limit ({budget.limits.max_members} members per input)")
                    return
                opened += 1
                if not counted and not budget.take(member.size):
                    yield Skip(here, f"decompression limit ({budget.limits.max_bytes} bytes per input)")
                    return
                handle = archive.extractfile(member)
                payload = handle.read() if handle is not None else b""
                yield Layer(here, payload, is_text(payload))
    except (LimitHit, Corrupt) as exc:
        yield Skip(steps, str(exc))
    except _TAR_ERRORS as exc:
        where = "truncated" if opened else "corrupt"
        yield Skip(steps, f"{where} archive (tar): {exc}")


def iter_plain_tar(data: bytes, steps: tuple[Step, ...], budget: Budget) -> Iterator[Layer | Skip]:
    yield from iter_tar(io.BytesIO(data), steps, budget)


def iter_zip(data: bytes, steps: tuple[Step, ...], budget: Budget) -> Iterator[Layer | Skip]:
    """Members of a zip-family archive (jar, war, whl, apk, docx, …), each checked before and while
    it is inflated: encrypted members, declared and actual ratio, the byte and member budgets."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_OPEN_ERRORS as exc:
        yield Skip(steps, f"corrupt archive (zip): {exc}")
        return
    limits = budget.limits
    members = [info for info in archive.infolist() if not info.is_dir()]
    for index, info in enumerate(members):
        if not budget.take_member():
            yield Skip(
                steps,
                f"member limit ({limits.max_members} members per input): "
                f"{len(members) - index} of {len(members)} not opened",
            )
            return
        here = (*steps, Step(StepKind.ZIP, info.filename))
        if info.flag_bits & 0x1:
            yield Skip(here, "encrypted archive member")
            continue
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            yield Skip(here, f"compression ratio over {limits.max_ratio} (zip bomb?)")
            continue
        try:
            payload = _read_member(archive, info, budget)
        except LimitHit as exc:
            yield Skip(here, str(exc))
            if budget.bytes_left <= 0:
                return
            continue
        except _ZIP_READ_ERRORS as exc:
            yield Skip(here, f"corrupt archive member (zip): {exc}")
            continue
        yield Layer(here, payload, is_text(payload))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    limits = budget.limits
    chunks: list[bytes] = []
    produced = 0
    with archive.open(info) as handle:
        while chunk := handle.read(READ_CHUNK):
            produced += len(chunk)
            if not budget.take(len(chunk)):
                raise LimitHit(f"decompression limit ({limits.max_bytes} bytes per input)")
            if produced > limits.ratio_floor and produced > limits.max_ratio * max(info.compress_size, 1):
                raise LimitHit(f"compression ratio over {limits.max_ratio} (zip bomb?)")
            chunks.append(chunk)
    return b"".join(chunks)
