"""Built-in rules compile their regex when one of their keywords first hits; rule files a user
gives are compiled, and their problems reported, as they load."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from leakscan.detect import Detector
from leakscan.errors import RuleFileError
from leakscan.rules import LazyPattern, Rule, iter_builtin_rule_files, load_rules, parse_rules
from leakscan.synthetic import TokenGenerator


def _fresh_builtin_rules() -> list[Rule]:
    """Built-in rules parsed here, not the ones this process already shares (and used)."""
    return [rule for name, text in iter_builtin_rule_files() for rule in parse_rules(text, name, lazy=True)]


def _compiled(rule: Rule) -> bool:
    assert isinstance(rule.pattern, LazyPattern)
    return rule.pattern._compiled is not None


def test_builtin_rules_load_without_compiling_their_regexes() -> None:
    assert all(isinstance(rule.pattern, LazyPattern) for rule in load_rules())
    assert not any(_compiled(rule) for rule in _fresh_builtin_rules())


def test_only_the_rules_whose_keywords_hit_are_compiled(tokens: TokenGenerator) -> None:
    rules = _fresh_builtin_rules()
    token = tokens.sqco()
    detection = Detector(rules).detect(f'token = "{token}"\n'.encode())
    assert [m.secret.value for m in detection.matches] == [token]
    compiled = {rule.id for rule in rules if _compiled(rule)}
    assert compiled == {"sonarqube-cloud-scoped-org-token"}


def test_lazy_and_compiled_rules_find_the_same(tokens: TokenGenerator) -> None:
    lazy = _fresh_builtin_rules()
    eager = [rule for name, text in iter_builtin_rule_files() for rule in parse_rules(text, name)]
    assert not any(isinstance(rule.pattern, LazyPattern) for rule in eager)
    data = (
        f'SONAR_TOKEN="{tokens.sqco()}"\nsonar.login={tokens.hex40()}\n'
        f"curl -u {tokens.server()}: https://sonar.example.com:9000/api\n"
    ).encode()

    def found(rules: list[Rule]) -> list[tuple[str, str, int, int]]:
        return [(m.rule.id, m.secret.value, m.start, m.end) for m in Detector(rules).detect(data).matches]

    assert found(lazy) == found(eager)
    assert len(found(lazy)) >= 3


def test_lazy_pattern_answers_like_the_compiled_one() -> None:
    source = rb"(?i)key=(?P<secret>[a-z]{4})"
    lazy, compiled = LazyPattern(source), regex.compile(source)
    assert lazy.pattern == compiled.pattern
    assert lazy.flags == compiled.flags and dict(lazy.groupindex) == dict(compiled.groupindex)
    data = b"KEY=abcd key=efgh"
    spans = [m.span("secret") for m in compiled.finditer(data, pos=1, timeout=1.0)]
    assert [m.span("secret") for m in lazy.finditer(data, pos=1, timeout=1.0)] == spans == [(13, 17)]


def test_an_extra_rule_file_with_a_bad_regex_fails_at_load(tmp_path: Path) -> None:
    [name, text] = next(iter_builtin_rule_files())
    broken = tmp_path / "broken.toml"
    start = text.index("\npattern = ")
    end = text.index("\n", start + 1)
    broken.write_text(text[:start] + "\npattern = '(?P<secret>[a-z'" + text[end:], encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"broken\.toml: rule '[a-z-]+': field 'pattern': invalid regex"):
        load_rules([broken], builtin=False)
