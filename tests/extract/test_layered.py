"""Detection across layers: same rules and checks, exact-shape only in binary, one report per secret."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

from leakscan.detect import Detector
from leakscan.extract import Limits, StepKind
from leakscan.layered import LayeredDetector, line_column
from leakscan.rules import load_rules
from leakscan.synthetic import TokenGenerator

RULES = load_rules(())


def layered(limits: Limits | None = None) -> LayeredDetector:
    return LayeredDetector(RULES, limits or Limits())


def test_kubernetes_secret_finding_has_decoded_and_outer_position(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    value = base64.b64encode(f"# app\nSONAR_TOKEN={token}\n".encode()).decode()
    text = f"kind: Secret\ndata:\n  env: {value}\n".encode()
    expansion = layered().expand(text, text=True)
    [found] = expansion.matches
    assert [s.kind for s in found.steps] == [StepKind.BASE64]
    assert (found.match.rule.id, found.match.secret.value) == ("sonarqube-cloud-scoped-org-token", token)
    assert (found.match.line, found.match.column) == (2, 13)
    assert (found.outer, found.outer_steps) == ((3, 8), 0)


def test_legacy_rule_applies_in_decoded_text_not_in_binary(tokens: TokenGenerator) -> None:
    legacy = tokens.hex40()
    text = f"sonar.login={legacy}\n".encode()
    decoded = layered().expand(b"x: " + base64.b64encode(text), text=True)
    assert [m.match.rule.id for m in decoded.matches] == ["sonarqube-legacy-token"]
    binary = b"\x7fELF\x00\x00" + text + b"\x00" * 16
    assert layered().expand(binary, text=False).matches == []
    cloud = tokens.sqco()
    binary_cloud = b"\x7fELF\x00\x00" + cloud.encode() + b"\x00" * 16
    assert [m.match.secret.value for m in layered().expand(binary_cloud, text=False).matches] == [cloud]


def test_checksum_and_plausibility_still_apply(tokens: TokenGenerator) -> None:
    fake = "sqco_" + "a" * 59
    assert layered().expand(b"x: " + base64.b64encode(fake.encode()), text=True).matches == []


def test_a_secret_is_reported_once_per_input(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    encoded = base64.b64encode(token.encode()).decode()
    text = f"plain: {token}\nencoded: {encoded}\nagain: {encoded}\n".encode()
    detector = Detector(RULES)
    found = detector.detect(text).matches
    assert [m.secret.value for m in found] == [token]
    assert layered().expand(text, text=True, found=found).matches == []
    assert len(layered().expand(text, text=True).matches) == 1


def test_member_position_is_within_the_member(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("conf/app.properties", f"a=1\nsonar.token={token}\n")
    [found] = layered().expand(buffer.getvalue(), text=False).matches
    assert [(s.kind, s.member) for s in found.steps] == [(StepKind.ZIP, "conf/app.properties")]
    assert (found.match.line, found.match.column, found.outer) == (2, 13, None)


def test_depth_zero_is_off(tokens: TokenGenerator) -> None:
    text = b"x: " + base64.b64encode(tokens.sqco().encode())
    detector = layered(Limits(depth=0))
    assert not detector.enabled
    assert detector.expand(text, text=True).matches == []


def test_line_column() -> None:
    assert line_column(b"ab\r\ncd\ref\ngh", 11) == (4, 2)
    assert line_column("é=x".encode(), 3) == (1, 3)


def test_pyc_in_a_wheel(tokens: TokenGenerator, tmp_path: Path) -> None:
    import py_compile

    token = tokens.sqco()
    source = tmp_path / "conf.py"
    source.write_text(f'TOKEN = "{token}"\n')
    pyc = Path(py_compile.compile(str(source), cfile=str(tmp_path / "conf.pyc"))).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/__pycache__/conf.cpython-311.pyc", pyc)
    [found] = layered().expand(buffer.getvalue(), text=False).matches
    assert [s.kind for s in found.steps] == [StepKind.ZIP, StepKind.STRINGS]
    assert found.match.secret.value == token


def test_sqlite_values_packed_back_to_back(tokens: TokenGenerator, tmp_path: Path) -> None:
    import sqlite3

    token = tokens.sqco()
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("create table settings (key text, value text, note text)")
        connection.execute("insert into settings values ('sonar', ?, 'Xyz')", (token,))
    connection.close()
    found = layered().expand(database.read_bytes(), text=False).matches
    assert [(m.match.secret.value, [s.kind for s in m.steps]) for m in found] == [(token, [StepKind.STRINGS])]


def test_trigger_literals_share_the_keyword_pass(tokens: TokenGenerator) -> None:
    """Extra literals are found in the same pass, by both engines, and never become matches."""
    token = tokens.sqco()
    data = f"a: c3Fjb19 x\nb: {token}\nc: c3Fjb19\n".encode()
    for engine in ("python", "hyperscan"):
        detector = Detector(RULES, engine=engine, literals=(b"c3Fj", b"zzzz"))
        hits: list[tuple[int, int]] = []
        detection = detector.detect(data, hits)
        assert [m.secret.value for m in detection.matches] == [token]
        assert sorted(hits) == [(3, 0), (data.rindex(b"c3Fj"), 0)]
        assert [m.secret.value for m in detector.detect(data).matches] == [token]


def test_allow_comment_on_the_encoded_line(tokens: TokenGenerator) -> None:
    value = base64.b64encode(f"SONAR_TOKEN={tokens.sqco()}".encode())
    assert layered().expand(b"env: " + value + b"  # leakscan:allow\n", text=True).matches == []
    assert len(layered().expand(b"# leakscan:allow\nenv: " + value + b"\n", text=True).matches) == 1
