"""Calibration of the offline checks: random valid tokens always pass, placeholders never do."""

from __future__ import annotations

import hashlib
import random

import pytest

from leakscan.detect import Detector
from leakscan.judge import judge
from leakscan.rules import Rule, load_rules
from leakscan.synthetic import BASE62, HEX, TokenGenerator

CALIBRATION_TOKENS = 100_000
SQCO = "sonarqube-cloud-scoped-org-token"
SERVER = "sonarqube-server-token"
LEGACY = "sonarqube-legacy-token"


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("rule_id", "prefixes", "alphabet", "length"),
    [
        (SQCO, ("sqco_",), BASE62, 59),
        (SERVER, ("squ_", "sqp_", "sqa_"), HEX, 40),
        (LEGACY, ("",), HEX, 40),
    ],
    ids=["sqco", "squ-sqp-sqa", "legacy-hex"],
)
def test_random_valid_tokens_are_never_rejected(
    rules: dict[str, Rule], rule_id: str, prefixes: tuple[str, ...], alphabet: str, length: int
) -> None:
    rule = rules[rule_id]
    rng = random.Random(f"calibration/{rule_id}")
    rejected = []
    for n in range(CALIBRATION_TOKENS):
        token = prefixes[n % len(prefixes)] + "".join(rng.choices(alphabet, k=length))
        verdict = judge(token, "", rule)
        if not verdict.keep:
            rejected.append((token, verdict.reason))
    assert rejected == []


def test_calibration_tokens_are_matched_by_the_pattern(rules: dict[str, Rule]) -> None:
    """The tokens the calibration judges are the ones the patterns find, so the test is honest."""
    rng = random.Random("calibration/patterns")
    samples = {
        SQCO: "sqco_" + "".join(rng.choices(BASE62, k=59)),
        SERVER: "sqa_" + "".join(rng.choices(HEX, k=40)),
        LEGACY: "".join(rng.choices(HEX, k=40)),
    }
    for rule_id, token in samples.items():
        text = f"sonar.login={token}\n".encode()
        found = [(m.rule.id, m.secret.value) for m in Detector([rules[rule_id]]).detect(text).matches]
        assert found == [(rule_id, token)]


# The public example token of SonarSource's S7791 rule description, assembled at run time so that
# the literal never appears in this repository.
_DOC_EXAMPLE_PARTS = (
    "sqco_",
    "d4g8QujFirQJsaEgt",
    "gCnMgCAB5vhgfiFMlt",
    "QUvGjoMqMn0SAbZn5Ijxr83O",
)


def _sqco_near_misses() -> list[tuple[str, str]]:
    doc_example = "".join(_DOC_EXAMPLE_PARTS)
    return [
        ("x" * 59, "long run of one character"),
        ("X" * 59, "long run of one character"),
        ("0" * 59, "long run of one character"),
        ("1" * 58 + "2", "long run of one character"),
        ((BASE62 * 2)[:59], "long ascending or descending sequence"),
        ((BASE62[::-1] * 2)[:59], "long ascending or descending sequence"),
        (
            ("abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "0123456789")[:59],
            "long ascending or descending sequence",
        ),
        (("Ab1" * 20)[:59], "short pattern repeated"),
        (("k9Zq" * 15)[:59], "short pattern repeated"),
        (("Q7xP2mLa" * 8)[:59], "short pattern repeated"),
        (("xxxxXXXX" * 8)[:59], "short pattern repeated"),
        ("YourExampleTokenGoesHere" + "0" * 35, "placeholder word 'example'"),
        ("changeme" * 7 + "abc", "placeholder word 'changeme'"),
        (
            "ReplaceMeWithYourRealSonarCloudTokenBeforeRunningTheBuild12",
            "placeholder word 'replaceme'",
        ),
        (
            "ThisIsNotARealTokenJustAPlaceholderForTheDocumentationPages",
            "placeholder word 'placeholder'",
        ),
        ("a1b2" * 14 + "a1b", "short pattern repeated"),
        (doc_example[5:], "known public example token"),
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    _sqco_near_misses(),
    ids=[f"sqco-near-miss-{n}" for n in range(1, len(_sqco_near_misses()) + 1)],
)
def test_sqco_placeholders_and_near_misses_are_rejected(
    rules: dict[str, Rule], body: str, reason: str
) -> None:
    token = "sqco_" + body
    assert len(body) == 59
    verdict = judge(token, _sha(token), rules[SQCO])
    assert (verdict.keep, verdict.reason) == (False, reason)


def test_doc_example_sha256_is_the_one_in_the_rule_file(rules: dict[str, Rule]) -> None:
    doc_example = "".join(_DOC_EXAMPLE_PARTS)
    assert len(doc_example) == 64
    assert rules[SQCO].known_examples_sha256 == {_sha(doc_example)}


def test_doc_example_is_not_reported_by_the_detector(rules: dict[str, Rule]) -> None:
    text = f"sonar.token={''.join(_DOC_EXAMPLE_PARTS)}\n".encode()
    detection = Detector([rules[SQCO]]).detect(text)
    assert detection.matches == []
    assert [(r.id, reason) for r, reason in detection.rejected] == [(SQCO, "known public example token")]


@pytest.mark.parametrize(
    ("rule_id", "token", "reason"),
    [
        (SERVER, "squ_" + "0" * 40, "long run of one character"),
        (SERVER, "sqp_" + "f" * 40, "long run of one character"),
        (SERVER, "sqa_" + ("0123456789abcdef" * 3)[:40], "long ascending or descending sequence"),
        (SERVER, "squ_" + ("fedcba9876543210" * 3)[:40], "long ascending or descending sequence"),
        (SERVER, "squ_" + "deadbeef" * 5, "placeholder word 'deadbeef'"),
        (SERVER, "squ_" + "cafebabe" + "1f" * 16, "placeholder word 'cafebabe'"),
        (SERVER, "sqp_" + "a1b2c3" * 6 + "a1", "short pattern repeated"),
        (SERVER, "sqp_" + "1234" * 10, "short pattern repeated"),
        (LEGACY, "0" * 40, "long run of one character"),
        (LEGACY, "a" * 40, "long run of one character"),
        (LEGACY, ("abcdef0123456789" * 3)[:40], "long ascending or descending sequence"),
        (LEGACY, "feedface" * 5, "placeholder word 'feedface'"),
        (LEGACY, "0f" * 20, "short pattern repeated"),
    ],
)
def test_server_placeholders_and_near_misses_are_rejected(
    rules: dict[str, Rule], rule_id: str, token: str, reason: str
) -> None:
    verdict = judge(token, _sha(token), rules[rule_id])
    assert (verdict.keep, verdict.reason) == (False, reason)


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"])
def test_checksummed_tokens(rules: dict[str, Rule], prefix: str) -> None:
    rule = rules["npm-access-token" if prefix == "npm_" else "github-token"]
    generator = TokenGenerator(f"checksum/{prefix}")
    for _ in range(200):
        good = generator.checksummed(prefix)
        verdict = judge(good, _sha(good), rule)
        assert (verdict.keep, verdict.checksum.value) == (True, "valid")
        bad = generator.checksummed(prefix, valid=False)
        assert judge(bad, _sha(bad), rule).reason == "crc32-base62 checksum mismatch"
        swapped = good[:4] + good[5] + good[4] + good[6:]
        if swapped != good:
            assert not judge(swapped, _sha(swapped), rule).keep


def test_readme_states_the_rule_files_thresholds(rules: dict[str, Rule]) -> None:
    """The calibration paragraph of the README quotes the limits the rule files set."""
    import re

    from tests.conftest import REPO_ROOT

    readme = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    cloud = rules["sonarqube-cloud-scoped-org-token"].plausibility
    server = rules["sonarqube-server-token"].plausibility
    assert cloud is not None and server is not None
    for settings, owner in (
        (cloud, "the `sqco_` rule rejects"),
        (server, "the server and legacy rules reject"),
    ):
        start = readme.index(owner)
        sentence = readme[
            start : readme.index(";", start) if "sqco" in owner else readme.index(". These are", start)
        ]
        assert re.search(rf"entropy below {settings.min_entropy:g}\b", sentence), sentence
        assert re.search(rf"runs over {settings.max_run}\b", sentence), sentence
        assert re.search(rf"sequences over {settings.max_sequence}\b", sentence), sentence
        assert re.search(rf"stretches over {settings.max_repeat}\b", sentence), sentence
        assert f"more than {settings.max_steps} steps" in sentence
    assert "`max_steps`" in readme
