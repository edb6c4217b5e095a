"""A pipeline gate's rules: comparisons a person can read, parsed and checked before anything runs.

    rule = parse_rule("map50_95 >= production - 0.005", context)
    rule.metric, rule.op, rule.baseline, rule.offset      # "map50_95", ">=", "production", -0.005
    check(rule, values, baseline_values)                  # RuleResult(value=0.61, threshold=0.598, passed=True)

A rule is `METRIC OP THRESHOLD`. OP is one of >= <= > < == !=. THRESHOLD is a number, a word (for a metric
that is a word: `passed`, `a_better`), or a baseline with an optional margin (`production - 0.005`): the same
metric of the model the compare step measured against, on the same split. METRIC names what a step measured:

    map50_95 map50 precision recall f1                        the evaluate step, at its thresholds
    recall[CLASS] precision[CLASS] f1[CLASS] ap50[CLASS] ap50_95[CLASS]   one class of the dataset
    leakage.copies                                            test images that are copies of training images
    validation.errors validation.warnings                     the validate step's issues
    audit.suspects audit.likely                               the audit step's suspected label errors
    compare.verdict                                           a_better, b_better, no_significant_difference
    compare.METRIC.delta|ci_low|ci_high                       the A/B interval of an overall metric (B - A)
    export.FORMAT.parity (passed/failed), export.FORMAT.map50_95_delta
    latency_ms.FORMAT, latency_ms.pytorch                     median ms per image, timed by the export step
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcore.compare.verdict import VERDICTS


class RuleError(ValueError):
    """A rule that does not parse, or names what the pipeline does not measure; the message says how to write it."""


OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
OVERALL = ("map50_95", "map50", "precision", "recall", "f1")  # the evaluate step's overall numbers
PER_CLASS = ("precision", "recall", "f1", "ap50", "ap50_95")  # what a class's row of metrics.json holds
INTERVAL_PARTS = ("delta", "ci_low", "ci_high")
PARITY_WORDS = ("passed", "failed")
BASELINE = "baseline"  # always names the compare step's model A; its alias (e.g. production) does too
EXAMPLES = "e.g. 'map50_95 >= 0.6', 'recall[cactus] >= 0.8', 'map50_95 >= production - 0.005'"

_RULE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w.]*(?:\[[^\]]+\])?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<rhs>.+?)\s*$")
_BASELINE = re.compile(r"^(?P<ref>[A-Za-z_][\w-]*)\s*(?:(?P<sign>[+-])\s*(?P<margin>\d+(?:\.\d*)?|\.\d+))?$")
_CLASS = re.compile(r"^(?P<metric>\w+)\[(?P<name>[^\]]+)\]$")


@dataclass(frozen=True)
class RuleContext:
    """What the pipeline will measure, so that a rule naming anything else is refused before it runs."""

    steps: tuple[str, ...]
    """The pipeline's steps before the gate."""
    classes: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    """The export step's formats."""
    baseline: str | None = None
    """The alias (or reference) of the compare step's model A, when there is a compare step."""
    parity: bool = True
    """Whether the export step checks parity (parity: false measures no parity to gate on)."""


@dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    op: str
    threshold: float | str | None
    """A number or a word; None when the threshold is the baseline's value."""
    baseline: str | None = None
    offset: float = 0.0

    @property
    def step(self) -> str:
        """The step whose output the rule reads."""
        return step_of(self.metric)

    def threshold_text(self) -> str:
        if self.baseline is None:
            return (
                f"{self.op} {self.threshold:g}" if isinstance(self.threshold, float) else f"{self.op} {self.threshold}"
            )
        margin = f" {'-' if self.offset < 0 else '+'} {abs(self.offset):g}" if self.offset else ""
        return f"{self.op} {self.baseline}{margin}"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    metric: str
    value: Any
    threshold: Any
    """The number or word compared against (a baseline's value plus its margin, worked out)."""
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "note": self.note,
        }


def step_of(metric: str) -> str:
    head = metric.split(".", 1)[0].split("[", 1)[0]
    return {
        "leakage": "evaluate",
        "validation": "validate",
        "audit": "audit",
        "compare": "compare",
        "export": "export",
        "latency_ms": "export",
    }.get(head, "evaluate")


def _words(metric: str) -> tuple[str, ...] | None:
    """The words a word-valued metric takes (None: it is a number)."""
    if metric == "compare.verdict":
        return VERDICTS
    if metric.startswith("export.") and metric.endswith(".parity"):
        return PARITY_WORDS
    return None


def check_metric(metric: str, context: RuleContext) -> None:
    """RuleError unless the pipeline measures `metric`."""
    step = step_of(metric)
    if step not in context.steps:
        raise RuleError(
            f"{metric} is measured by the {step} step; add a {step} step before the gate, or drop the rule."
        )
    parts = metric.split(".")
    if (found := _CLASS.match(metric)) is not None:
        if found["metric"] not in PER_CLASS:
            raise RuleError(f"{found['metric']}[...] is no per-class metric; use one of {', '.join(PER_CLASS)}.")
        if context.classes and found["name"] not in context.classes:
            raise RuleError(
                f"there is no class {found['name']!r} in the dataset; its classes are {', '.join(context.classes)}."
            )
        return
    known = (
        metric in OVERALL
        or metric in ("leakage.copies", "validation.errors", "validation.warnings", "audit.suspects", "audit.likely")
        or metric == "compare.verdict"
        or (len(parts) == 3 and parts[0] == "compare" and parts[1] in OVERALL and parts[2] in INTERVAL_PARTS)
    )
    if parts[0] in ("export", "latency_ms"):
        fmt = parts[1] if len(parts) > 1 else ""
        usable = (*context.formats, "pytorch") if parts[0] == "latency_ms" else context.formats
        if fmt not in usable:
            raise RuleError(
                f"{metric}: the export step makes {', '.join(context.formats) or 'no format'}; "
                f"name one of them (e.g. {parts[0]}.{(context.formats or ('onnx',))[0]}"
                f"{'.parity' if parts[0] == 'export' else ''})."
            )
        known = (parts[0] == "latency_ms" and len(parts) == 2) or (
            len(parts) == 3 and parts[2] in ("parity", "map50_95_delta")
        )
        if known and parts[0] == "export" and not context.parity:
            raise RuleError(f"{metric}: the export step has parity: false, so nothing measures it; check parity.")
    if not known:
        raise RuleError(
            f"{metric!r} is not a metric a pipeline measures; use {', '.join(OVERALL)}, recall[CLASS], "
            "leakage.copies, validation.errors, audit.suspects, compare.verdict, export.FORMAT.parity or "
            "latency_ms.FORMAT."
        )


def parse_rule(text: Any, context: RuleContext) -> Rule:
    """The rule `text` says; RuleError, naming what is wrong and how to write it, when it says none."""
    if not isinstance(text, str) or (found := _RULE.match(text)) is None:
        raise RuleError(f"{text!r} is not a rule; write METRIC OP THRESHOLD ({EXAMPLES}).")
    metric, op, rhs = found["metric"], found["op"], found["rhs"]
    check_metric(metric, context)
    words = _words(metric)
    if words is not None:
        if op not in ("==", "!="):
            raise RuleError(f"{text!r}: {metric} is a word ({', '.join(words)}); compare it with == or !=.")
        if rhs not in words:
            raise RuleError(f"{text!r}: {metric} is one of {', '.join(words)}; {rhs!r} is none of them.")
        return Rule(text, metric, op, rhs)
    try:
        number = float(rhs)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise RuleError(f"{text!r}: the threshold must be a finite number.")
        return Rule(text, metric, op, number)
    if (ref := _BASELINE.match(rhs)) is None:
        raise RuleError(
            f"{text!r}: {rhs!r} is neither a number nor a baseline with a margin (e.g. production - 0.005)."
        )
    if ref["ref"] not in (BASELINE, context.baseline):
        hint = (
            f"the compare step measures against {context.baseline!r}; write {context.baseline} or {BASELINE}"
            if context.baseline
            else "add a compare step (e.g. compare: {against: NAME@production}) to measure a baseline"
        )
        raise RuleError(f"{text!r}: {ref['ref']!r} names no baseline; {hint}.")
    if "compare" not in context.steps:
        raise RuleError(f"{text!r} reads a baseline: add a compare step before the gate.")
    if not (metric in OVERALL or _CLASS.match(metric)):
        raise RuleError(
            f"{text!r}: only the evaluation's metrics ({', '.join(OVERALL)}, recall[CLASS]...) have a baseline."
        )
    margin = float(ref["margin"] or 0.0) * (-1 if ref["sign"] == "-" else 1)
    return Rule(text, metric, op, None, baseline=ref["ref"], offset=margin)


def parse_rules(texts: Any, context: RuleContext, where: str = "steps.gate.rules") -> list[Rule]:
    if not isinstance(texts, list) or not texts:
        raise RuleError(f"{where} is empty; give a list of rules ({EXAMPLES}).")
    rules = []
    for n, text in enumerate(texts):
        try:
            rules.append(parse_rule(text, context))
        except RuleError as exc:
            raise RuleError(f"{where}[{n}]: {exc}") from None
    return rules


def check(rule: Rule, values: dict[str, Any], baseline: dict[str, Any]) -> RuleResult:
    """The rule against what the steps measured (`values`) and the baseline's numbers (`baseline`)."""
    value = values.get(rule.metric)
    threshold: Any = rule.threshold
    if rule.baseline is not None:
        base = baseline.get(rule.metric)
        if base is None:
            return RuleResult(rule.text, rule.metric, value, None, False, f"the baseline has no {rule.metric}")
        threshold = round(float(base) + rule.offset, 6)
    if value is None:
        return RuleResult(rule.text, rule.metric, None, threshold, False, f"nothing measured {rule.metric}")
    if isinstance(threshold, float) and not isinstance(value, int | float):
        return RuleResult(rule.text, rule.metric, value, threshold, False, f"{rule.metric} is not a number")
    passed = bool(OPS[rule.op](value, threshold))
    return RuleResult(rule.text, rule.metric, value, threshold, passed)
