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


# --- soft line breaks: looked for near a keyword's or another trigger's hit --------------------


def _secrets(data: bytes) -> list[str]:
    examined = layered().examine(data)
    assert not isinstance(examined, StepKind)
    return [match.secret.value for match in examined.matches]


def _soft_broken(text: str, at: int, newline: str = "\n") -> str:
    return text[:at] + "=" + newline + text[at:]


def test_a_soft_break_inside_a_token_is_found_from_its_keyword(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    for newline in ("\n", "\r\n"):
        for at in (len("sqco_") + 1, len(token) - 1):
            mail = "Subject: ci\n\nYour token: " + _soft_broken(token, at, newline) + " keep it safe\n"
            assert _secrets(mail.encode()) == [token], (newline, at)


def test_a_soft_break_inside_a_keyword_is_a_trigger_of_its_own(tokens: TokenGenerator) -> None:
    token, legacy = tokens.sqco(), tokens.hex40()
    for at in range(1, len("sqco_")):
        assert _secrets(("token: " + _soft_broken(token, at) + "\n").encode()) == [token], at
    for at in range(1, len("sonar")):
        for key in ("sonar.login", "SONAR.login"):
            text = _soft_broken(f"{key}={legacy}", at, "\r\n").replace("login=", "login=3D")
            assert _secrets(text.encode()) == [legacy], (key, at)


def test_a_soft_break_near_an_encoded_keyword_decodes_the_line(tokens: TokenGenerator) -> None:
    """Quoted-printable around base64: the base64 trigger's hit brings the soft break in."""
    token = tokens.sqco()
    value = base64.b64encode(f"SONAR_TOKEN={token}".encode()).decode()
    line = "env: " + value
    cut = line.index(value) + 40  # inside the base64 value, past its trigger
    assert _secrets(_soft_broken(line, cut).encode() + b"\n") == [token]


def test_a_soft_break_far_from_every_hit_decodes_nothing() -> None:
    """Code is full of lines ending in ``=``; without a keyword or a trigger near, none is
    decoded."""
    code = b"total =\n    1 + 2\nname =\n    'x'\n" * 500
    detector = layered().detector
    hits: list[tuple[int, int]] = []
    assert detector.detect(code, hits).matches == [] and hits == []
    assert layered().expand(code, text=True, hits=[]).layers == 0


def test_near_literals_are_found_only_in_windows_by_both_engines(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    far = b"x =\n" + b"." * 5000
    data = far + f"t: {token} =\n".encode() + b"." * 5000 + b"y =\n c3Fjb19 =\n"
    near_soft = data.index(b"=\n", len(far))
    before, after = data.index(b"y =\n") + 2, data.rindex(b"=\n")  # around the trigger
    for engine in ("python", "hyperscan"):
        detector = Detector(RULES, engine=engine, literals=(b"c3Fj", b"=\n"), near=1)
        hits: list[tuple[int, int]] = []
        assert [m.secret.value for m in detector.detect(data, hits).matches] == [token]
        assert sorted(hits) == [(near_soft, 1), (before, 1), (data.rindex(b"c3Fj"), 0), (after, 1)]
        assert b"=\n" not in [data[at : at + 2] for at in detector.keywords.offsets(data)]
        assert (b"=\n", False) not in detector.keywords.in_pass
