"""The gate: every rule against what the steps measured, written to gate.json.

document = judge(rules, outputs)        # {"passed": False, "rules": [{"rule", "value", "threshold", "passed"}]}
"""

from __future__ import annotations

from typing import Any

from mlcore.pipelines.rules import OVERALL, Rule, check


def measured(outputs: dict[str, Any]) -> dict[str, Any]:
    """Metric name (as rules write it) -> value, from the outputs of the steps that ran."""
    values: dict[str, Any] = {}
    evaluation = outputs.get("evaluate") or {}
    values |= evaluation_values(evaluation)
    if evaluation:
        values["leakage.copies"] = evaluation.get("leakage_copies")
    if validation := outputs.get("validate"):
        values["validation.errors"] = validation.get("errors")
        values["validation.warnings"] = validation.get("warnings")
    if audit := outputs.get("audit"):
        values["audit.suspects"] = audit.get("suspects")
        values["audit.likely"] = audit.get("likely")
    if compare := outputs.get("compare"):
        values["compare.verdict"] = compare.get("verdict")
        for metric, interval in (compare.get("metrics") or {}).items():
            for part in ("delta", "ci_low", "ci_high"):
                if isinstance(interval, dict) and part in interval:
                    values[f"compare.{metric}.{part}"] = interval[part]
    if export := outputs.get("export"):
        for fmt, entry in (export.get("formats") or {}).items():
            values[f"export.{fmt}.parity"] = entry.get("parity")
            values[f"export.{fmt}.map50_95_delta"] = entry.get("map50_95_delta")
            values[f"latency_ms.{fmt}"] = entry.get("latency_ms")
        values["latency_ms.pytorch"] = export.get("latency_ms_pytorch")
    return values


def evaluation_values(evaluation: dict[str, Any]) -> dict[str, Any]:
    values = {k: evaluation.get(k) for k in OVERALL if evaluation.get(k) is not None}
    for name, row in (evaluation.get("per_class") or {}).items():
        for metric, value in row.items():
            values[f"{metric}[{name}]"] = value
    return values


def compared(compare: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model A's, model B's) numbers as the compare step measured both, on the same images and split: what a rule
    against the baseline compares, so that the two sides are one measurement."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    rows = [("", compare.get("metrics") or {})] + [(n, r) for n, r in (compare.get("per_class") or {}).items()]
    for name, row in rows:
        for metric, interval in row.items():
            if isinstance(interval, dict) and "a" in interval and "b" in interval:
                key = f"{metric}[{name}]" if name else metric
                a[key], b[key] = interval["a"], interval["b"]
    return a, b


def judge(rules: list[Rule], outputs: dict[str, Any]) -> dict[str, Any]:
    """gate.json: passed when every rule holds; each rule with its value, threshold and verdict. A rule against
    the baseline reads both models from the compare step; the others read the step that measures them."""
    values = measured(outputs)
    compare = outputs.get("compare") or {}
    baseline, candidate = compared(compare)
    results = [
        check(rule, candidate if rule.baseline else values, baseline).to_dict()
        | {"threshold_text": rule.threshold_text(), "baseline": rule.baseline}
        for rule in rules
    ]
    return {
        "passed": all(r["passed"] for r in results),
        "rules": results,
        "failed": [r["rule"] for r in results if not r["passed"]],
        "baseline": compare.get("a"),
    }
