"""Runs each rule's examples through the detector, the same path a scan takes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from msgspec import Struct

from leakscan.detect import Detector
from leakscan.errors import RuleFileError
from leakscan.rules import Example, Rule, iter_builtin_rule_files, load_rules


class ExampleOutcome(Struct, frozen=True):
    """One example's result; ``case_id`` reads like ``rule-id/example-2``."""

    case_id: str
    ok: bool
    detail: str = ""


def check_example(rule: Rule, example: Example, case_id: str) -> ExampleOutcome:
    """A positive example must yield exactly its secret at its span; a negative one nothing."""
    from leakscan.synthetic import fill_placeholders  # imports random (~1 ms): only for examples

    texts = [example.text] + ([example.secret] if example.secret is not None else [])
    filled = fill_placeholders(texts, seed=case_id)
    data = filled[0].encode("utf-8")
    if example.secret is not None and not Detector([rule]).keyword_hits(data):
        return ExampleOutcome(case_id, False, "the text contains none of the rule's keywords")
    detection = Detector([rule]).detect(data)
    found = [(m.secret.value, m.start, m.end) for m in detection.matches]
    shown = ", ".join(f"{value[:8]}… at {start}-{end}" for value, start, end in found) or "nothing"
    if example.secret is None:
        if found:
            return ExampleOutcome(case_id, False, f"expected no match ({example.reason}), found {shown}")
        return ExampleOutcome(case_id, True)
    secret = filled[1].encode("utf-8")
    start = data.find(secret)
    if start < 0:
        return ExampleOutcome(case_id, False, "the expected secret does not occur in the text")
    expected = [(filled[1], start, start + len(secret))]
    if found != expected:
        reasons = "; ".join(reason for _, reason in detection.rejected)
        extra = f" (rejected: {reasons})" if reasons else ""
        return ExampleOutcome(
            case_id, False, f"expected the secret at {start}-{start + len(secret)}, found {shown}{extra}"
        )
    return ExampleOutcome(case_id, True)


def iter_example_cases(rules: Sequence[Rule]) -> Iterator[tuple[Rule, Example, str]]:
    for rule in rules:
        for n, example in enumerate(rule.examples, 1):
            yield rule, example, f"{rule.id}/example-{n}"
        for n, example in enumerate(rule.negative_examples, 1):
            yield rule, example, f"{rule.id}/negative-{n}"


def example_field(case_id: str) -> str:
    """The rule-file field of an example case: ``r/example-2`` → ``examples[2]``."""
    kind, _, number = case_id.rpartition("/")[2].rpartition("-")
    return f"{'examples' if kind == 'example' else 'negative_examples'}[{number}]"


def example_problems(rules: Sequence[Rule]) -> list[str]:
    """Every failing example as a rule-file problem naming the file, the rule and the field."""
    return [
        f"{rule.source}: rule '{rule.id}': field '{example_field(case_id)}': {outcome.detail}"
        for rule, example, case_id in iter_example_cases(rules)
        if not (outcome := check_example(rule, example, case_id)).ok
    ]


def load_checked_rules(
    extra: Sequence[Path] = (), *, builtin: bool = True, disable: Iterable[str] = ()
) -> list[Rule]:
    """``load_rules``, then run the examples of the extra rule files (the built-in ones are run by
    the test suite): a rule whose examples fail is a malformed rule."""
    rules = load_rules(extra, builtin=builtin, disable=disable)
    if not extra:
        return rules
    builtin_names = {name for name, _ in iter_builtin_rule_files()}
    problems = example_problems([rule for rule in rules if rule.source not in builtin_names])
    if problems:
        raise RuleFileError(problems)
    return rules
