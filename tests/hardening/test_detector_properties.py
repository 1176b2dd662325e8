"""Property tests: arbitrary bytes with tokens planted anywhere yield exactly the planted tokens,
whole or streamed in chunks of any size, and the detector never raises."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leakscan.detect import ALLOW_MARKERS, Detector, detect_stream
from leakscan.rules import load_rules
from leakscan.synthetic import TokenGenerator

DETECTOR = Detector(load_rules())
SEPARATORS = [
    b" ",
    b"\n",
    b"\r\n",
    b"\r",
    b"\0",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"=",
    b'"',
]


def _token(kind: int, seed: int) -> bytes:
    generator = TokenGenerator(seed)
    makers = [
        generator.sqco,
        lambda: generator.server("u"),
        lambda: generator.server("a"),
        lambda: generator.checksummed("ghp_"),
        lambda: generator.checksummed("npm_"),
    ]
    return makers[kind % len(makers)]().encode()


@st.composite
def planted_buffers(draw: st.DrawFn) -> tuple[bytes, list[tuple[bytes, int]]]:
    """Random bytes with tokens planted at random places, never glued to a word character."""
    pieces: list[bytes] = []
    planted: list[tuple[bytes, int]] = []
    size = 0
    for _ in range(draw(st.integers(0, 6))):
        filler = draw(st.binary(max_size=300))
        pieces.append(filler)
        size += len(filler)
        if size:
            separator = draw(st.sampled_from(SEPARATORS))
            pieces.append(separator)
            size += len(separator)
        token = _token(draw(st.integers(0, 4)), draw(st.integers(0, 10**6)))
        planted.append((token, size))
        pieces.append(token)
        size += len(token)
        separator = draw(st.sampled_from(SEPARATORS))
        pieces.append(separator)
        size += len(separator)
    if draw(st.booleans()):
        pieces.append(draw(st.binary(max_size=300)))
    data = b"".join(pieces)
    assume(not any(marker in data for marker in ALLOW_MARKERS))  # they suppress a line on purpose
    return data, planted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_buffers())
def test_exactly_the_planted_tokens(case: tuple[bytes, list[tuple[bytes, int]]]) -> None:
    data, planted = case
    found = [(m.secret.value.encode(), m.start) for m in DETECTOR.detect(data).matches]
    assert found == planted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_buffers(), st.integers(1, 200))
def test_streamed_in_chunks_gives_the_same(case: tuple[bytes, list[tuple[bytes, int]]], chunk: int) -> None:
    data, planted = case
    whole = [
        (m.secret.value, m.start, m.line, m.column, m.utf16_column, m.utf16_end_column)
        for m in DETECTOR.detect(data).matches
    ]
    streamed = detect_stream(DETECTOR, io.BytesIO(data).read, chunk, 128)
    assert [
        (m.secret.value, m.start, m.line, m.column, m.utf16_column, m.utf16_end_column)
        for m in streamed.matches
    ] == whole
    assert [(m.secret.value.encode(), m.start) for m in streamed.matches] == planted


@pytest.mark.parametrize("chunk", [1, 3, 70, 71, 72, 200])
def test_streamed_columns_after_stray_continuation_bytes(chunk: int) -> None:
    """Undecodable bytes near a chunk cut (a euro sign followed by stray continuation bytes) must
    not shift the columns of later tokens on the line (found by hypothesis)."""
    token = TokenGenerator(3).sqco().encode()
    data = token + b"\xe2\x82\xac\x80\x80 " + b"  ".join([token] * 4) + b" "
    whole = [(m.start, m.column, m.utf16_column) for m in DETECTOR.detect(data).matches]
    streamed = detect_stream(DETECTOR, io.BytesIO(data).read, chunk, 128)
    assert [(m.start, m.column, m.utf16_column) for m in streamed.matches] == whole
    assert len(whole) == 5


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    detection = DETECTOR.detect(data)
    assert detection.errors == []
