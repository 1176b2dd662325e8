"""Property: a token encoded through a random chain of encodings is found, with that chain."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leakscan.engine import Engine
from leakscan.extract import Extractor, Layer, StepKind
from leakscan.models import Blob, FileOrigin, ScanResult
from leakscan.options import ScanOptions
from leakscan.synthetic import TokenGenerator

KEYWORDS = [(b"sqco_", False), (b"squ_", False), (b"sonar", True)]
EXTRACTOR = Extractor(KEYWORDS)

ENCODERS: dict[str, tuple[StepKind, Callable[[bytes], bytes]]] = {
    "base64": (StepKind.BASE64, base64.b64encode),
    "base64url-unpadded": (StepKind.BASE64, lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")),
    "percent": (StepKind.PERCENT, lambda b: "".join(f"%{c:02X}" for c in b).encode()),
    "quoted-printable": (StepKind.QUOTED_PRINTABLE, binascii.b2a_qp),
    "entities-decimal": (StepKind.ENTITIES, lambda b: "".join(f"&#{c};" for c in b).encode()),
    "entities-hex": (StepKind.ENTITIES, lambda b: "".join(f"&#x{c:x};" for c in b).encode()),
    "escapes": (StepKind.ESCAPES, lambda b: "".join(f"\\u{c:04x}" for c in b).encode()),
}


def is_subsequence(short: list[StepKind], long: list[StepKind]) -> bool:
    it = iter(long)
    return all(kind in it for kind in short)


@settings(max_examples=150, deadline=None)
@given(
    chain=st.lists(st.sampled_from(sorted(ENCODERS)), min_size=1, max_size=3),
    seed=st.integers(0, 10_000),
    prefix=st.sampled_from(["token: ", "SONAR_TOKEN=", '{"t": "', "<v>"]),
)
def test_planted_token_through_a_chain(chain: list[str], seed: int, prefix: str) -> None:
    # quoted-printable is how a mail body is sent: the outermost step, applied to whole lines
    assume("quoted-printable" not in chain[:-1])
    token = TokenGenerator(seed).sqco()
    value = token.encode()
    expected: list[StepKind] = []
    line = prefix.encode()
    for index, name in enumerate(chain):
        kind, encode = ENCODERS[name]
        if index == len(chain) - 1 and kind is StepKind.QUOTED_PRINTABLE:
            value, line = line + value, b""  # a quoted-printable body is encoded as a whole
        encoded = encode(value)
        if encoded != value:  # quoted-printable leaves some text as it is
            expected.insert(0, kind)
        value = encoded
    text = b"line one\n" + line + value + b"\nline three\n"
    holding = [
        [step.kind for step in item.steps]
        for item in EXTRACTOR.walk(Layer((), text, True))
        if isinstance(item, Layer) and token.encode() in item.data
    ]
    if not expected:  # no step changed it: the plain text holds it, and no layer
        assert token.encode() in text and holding == []
        return
    assert expected in holding
    # every other layer that holds it is the same decoding with a no-op step left out
    assert all(is_subsequence(found, expected) for found in holding), holding


ENGINE = Engine(ScanOptions(paths=("x",)))


@settings(max_examples=60, deadline=None)
@given(
    chain=st.lists(st.sampled_from(sorted(ENCODERS)), min_size=1, max_size=3),
    seed=st.integers(0, 10_000),
)
def test_engine_reports_it_once_with_its_chain(chain: list[str], seed: int) -> None:
    """Through the whole engine: one finding, whose path names the encodings (outermost first)."""
    assume("quoted-printable" not in chain)  # quoted-printable may leave a token as it is
    token = TokenGenerator(seed).sqco()
    value = token.encode()
    for name in chain:
        value = ENCODERS[name][1](value)
    result = ScanResult()
    ENGINE.scan_blob(Blob(FileOrigin("conf/x.yaml"), b"key: " + value + b"\n"), result)
    suffix = "".join(f" ({ENCODERS[name][0].value})" for name in reversed(chain))
    assert [(f.path, f.secret.value) for f in result.findings] == [("conf/x.yaml" + suffix, token)]


@settings(max_examples=150, deadline=None)
@given(
    chain=st.lists(st.sampled_from(sorted(ENCODERS)), min_size=0, max_size=2),
    seed=st.integers(0, 10_000),
    prefix=st.sampled_from(["token: ", "SONAR_TOKEN=", '{"t": "', "<v>", "x" * 40 + " "]),
)
def test_engine_finds_it_in_a_quoted_printable_body(chain: list[str], seed: int, prefix: str) -> None:
    """A mail body (quoted-printable, lines soft-broken at 76 columns) holding the token through
    other encodings: the engine's keyword pass looks for soft breaks only near its hits. (A break
    that cuts an encoded keyword's trigger itself, a value starting past column ~68, is not
    found: see the README.)"""
    assume("quoted-printable" not in chain)
    token = TokenGenerator(seed).sqco()
    value = token.encode()
    for name in chain:
        value = ENCODERS[name][1](value)
    body = binascii.b2a_qp(b"Hello,\n" + prefix.encode() + value + b" thanks\n")
    result = ScanResult()
    ENGINE.scan_blob(Blob(FileOrigin("mail.eml"), b"Subject: ci\n\n" + body), result)
    assert token in [f.secret.value for f in result.findings], body
