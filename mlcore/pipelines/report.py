"""What a pipeline run tells a reviewer: report.md (for a pull request or $GITHUB_STEP_SUMMARY) and junit.xml (one
test case per gate rule, for GitLab's, Jenkins' and GitHub's test views).

    outcome(folder)          # "passed", "gate failed", "failed", "stopped", "cancelled" or "running"
    write_report(folder, spec, settings)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_atomically
from mlcore.core.settings import ENV_GITHUB_STEP_SUMMARY, Settings
from mlcore.pipelines.folder import FAILED, PASSED, PENDING, RUNNING, SKIPPED, PipelineFolder
from mlcore.pipelines.rules import OVERALL
from mlcore.pipelines.spec import PipelineSpec

PASSED_RUN, GATE_FAILED, FAILED_RUN, STOPPED, CANCELLED, RUNNING_RUN = (
    "passed",
    "gate failed",
    "failed",
    "stopped",
    "cancelled",
    "running",
)
MARKS = {PASSED: "✅", FAILED: "❌", SKIPPED: "⏭️", RUNNING: "⏳", PENDING: "·"}
CANCELLED_NOTE = "cancelled"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def outcome(steps: list[dict[str, Any]]) -> str:
    """How the run ended, from its steps."""
    states = [s["state"] for s in steps]
    if any(s.get("error") == CANCELLED_NOTE for s in steps):
        return CANCELLED
    failed = [s for s in steps if s["state"] == FAILED]
    if failed and all(s["step"] == "gate" and s.get("output") for s in failed):
        return GATE_FAILED
    if failed:
        return FAILED_RUN
    if RUNNING in states or PENDING in states:
        return RUNNING_RUN
    if SKIPPED in states:
        return STOPPED
    return PASSED_RUN


def number_text(value: Any) -> str:
    """A value as the report and the page show it: four decimals, a dash for nothing."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))  # a count's threshold (copies == 0) is written as the user wrote it
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _took(step: dict[str, Any]) -> str:
    if not step.get("started") or not step.get("ended"):
        return ""
    return f"{step['ended'] - step['started']:.1f} s"


def _summary(step: dict[str, Any]) -> str:
    out = step.get("output") or {}
    name = step["step"]
    if step.get("error"):
        return str(step["error"]).replace("|", "\\|").splitlines()[0][:200]
    if name == "train":
        return f"`{out.get('weights')}`"
    if name == "evaluate":
        return f"mAP50-95 {number_text(out.get('map50_95'))} on {out.get('images')} images"
    if name == "validate":
        return f"{out.get('verdict')}: {out.get('errors')} error(s), {out.get('warnings')} warning(s)"
    if name == "audit":
        said = f"{out.get('suspects')} suspected label error(s), {out.get('likely')} likely"
        if out.get("weak"):
            said += "; its model is too weak to audit with (see audit.json's warning)"
        if out.get("blind_below_px"):
            said += f"; {out.get('blind_labels')} label(s) under {out['blind_below_px']} px too small for its model"
        return said
    if name == "compare":
        return f"{out.get('verdict')} against {out.get('against')}"
    if name == "gate":
        return "passed" if out.get("passed") else "failed: " + "; ".join(out.get("failed") or [])
    if name == "export":
        return ", ".join(f"{f} (parity {e.get('parity')})" for f, e in (out.get("formats") or {}).items())
    if name == "register":
        alias = f", {out['alias']} moved to it" if out.get("alias") else ", no alias moved"
        return f"{out.get('name')} version {out.get('version')}{alias}"
    return ""


def markdown(folder: PipelineFolder, spec: PipelineSpec) -> str:
    steps = folder.steps()
    facts = folder.facts()
    result = outcome(steps)
    mark = {PASSED_RUN: "✅", GATE_FAILED: "❌", FAILED_RUN: "❌", STOPPED: "⏹️", CANCELLED: "⏹️"}.get(result, "⏳")
    outputs = {s["step"]: s.get("output") or {} for s in steps}
    lines = [
        f"## {mark} Pipeline `{folder.name}`: {result}",
        "",
        f"Dataset `{facts.get('dataset')}`"
        + (f" · model `{facts['model']}`" if facts.get("model") else "")
        + f" · {datetime.now():%Y-%m-%d %H:%M}",
        "",
        "| Step | State | Job | Took | Result |",
        "|---|---|---|---|---|",
    ]
    for s in steps:
        job = f"`{s['job']}`" if s.get("job") else ""
        lines.append(f"| {s['step']} | {MARKS.get(s['state'], '')} {s['state']} | {job} | {_took(s)} | {_summary(s)} |")
    gate = outputs.get("gate") or {}
    if gate.get("rules"):
        lines += ["", "### Gate", "", "| Rule | Value | Threshold | Verdict |", "|---|---|---|---|"]
        for r in gate["rules"]:
            verdict = "✅ pass" if r["passed"] else "❌ fail" + (f" ({r['note']})" if r.get("note") else "")
            threshold = r["threshold_text"] + (f" = {number_text(r['threshold'])}" if r.get("baseline") else "")
            lines.append(f"| `{r['rule']}` | {number_text(r['value'])} | {threshold} | {verdict} |")
    lines += _metrics(outputs)
    lines += _exports(outputs.get("export") or {})
    lines += _links(outputs, folder)
    return "\n".join(lines) + "\n"


def _metrics(outputs: dict[str, Any]) -> list[str]:
    evaluation = outputs.get("evaluate") or {}
    compare = outputs.get("compare") or {}
    if not evaluation and not compare:
        return []
    lines = ["", "### Metrics"]
    if evaluation:
        lines += ["", f"The evaluation on {evaluation.get('images')} images:", "", "| Metric | Value |", "|---|---|"]
        lines += [f"| {m} | {number_text(evaluation.get(m))} |" for m in OVERALL]
    if compare:
        intervals = compare.get("metrics") or {}
        lines += [
            "",
            f"Against `{compare.get('against')}` ({compare.get('a')}), both measured on the same "
            f"{compare.get('images')} images: **{compare.get('verdict')}**. {compare.get('summary') or ''}",
            "",
            "| Metric | This model | Baseline | Difference (95% interval) |",
            "|---|---|---|---|",
        ]
        for metric in OVERALL:
            i = intervals.get(metric) or {}
            ci = (
                f"{i['delta']:+.4f} [{i['ci_low']:+.4f}, {i['ci_high']:+.4f}]"
                if {"delta", "ci_low", "ci_high"} <= set(i)
                else "—"
            )
            lines.append(f"| {metric} | {number_text(i.get('b'))} | {number_text(i.get('a'))} | {ci} |")
    per_class = evaluation.get("per_class") or {}
    if per_class:
        lines += ["", "| Class | Precision | Recall | AP50 | AP50-95 |", "|---|---|---|---|---|"]
        for name, row in per_class.items():
            cells = (number_text(row.get(k)) for k in ("precision", "recall", "ap50", "ap50_95"))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _exports(export: dict[str, Any]) -> list[str]:
    formats = export.get("formats") or {}
    if not formats:
        return []
    lines = [
        "",
        "### Export",
        "",
        "| Format | Parity | mAP50-95 difference | Latency (median ms) |",
        "|---|---|---|---|",
    ]
    lines.append(f"| PyTorch (source) | | | {number_text(export.get('latency_ms_pytorch'))} |")
    for fmt, e in formats.items():
        delta, latency = number_text(e.get("map50_95_delta")), number_text(e.get("latency_ms"))
        lines.append(f"| {fmt} | {e.get('parity')} | {delta} | {latency} |")
    return lines


def _links(outputs: dict[str, Any], folder: PipelineFolder) -> list[str]:
    found = []
    if run := (outputs.get("train") or {}).get("run"):
        found += [f"- Training run: `{run}` (charts on the Runs page; `results.csv` there)"]
    if ev := (outputs.get("evaluate") or {}).get("folder"):
        found += [f"- Evaluation: `{ev}`"] + [
            f"- Plot: `{p}`" for p in (outputs.get("evaluate") or {}).get("plots", [])
        ]
    if cmp := (outputs.get("compare") or {}).get("folder"):
        found += [f"- A/B comparison: `{cmp}/report.html`"]
    if ex := (outputs.get("export") or {}).get("folder"):
        found += [f"- Export: `{ex}` (model_card.json)"]
    if reg := outputs.get("register"):
        found += [f"- Registry: `{reg.get('name')}` version {reg.get('version')}"]
    found += [f"- This run: `{folder.path}` (gate.json, junit.xml, steps.json)"]
    return ["", "### Files", "", *found]


def _clean(text: Any) -> str:
    """Text XML 1.0 can hold: a job's error may carry a terminal's colour codes or other control characters."""
    return CONTROL.sub("", ANSI.sub("", str(text)))


def junit(folder: PipelineFolder, spec: PipelineSpec) -> str:
    """JUnit XML: a suite for the gate (one case per rule) and one for the steps."""
    steps = folder.steps()
    gate_step = folder.step("gate")
    gate = folder.gate_result() or {}
    results = {r["rule"]: r for r in gate.get("rules") or []}
    root = ET.Element("testsuites", name=f"ML Studio pipeline {folder.name}")
    texts = spec.settings("gate").get("rules") or [] if "gate" in spec.step_names else []
    cases = ET.Element("testsuite", name=f"{spec.name}.gate", timestamp=datetime.now().isoformat(timespec="seconds"))
    failures = errors = skipped = step_failures = 0
    for text in texts:
        case = ET.SubElement(cases, "testcase", classname=f"{spec.name}.gate", name=str(text), time="0")
        r = results.get(text)
        if r is None:
            why = gate_step.get("error") or "the gate did not run"
            ET.SubElement(case, "skipped", message=_clean(why))
            skipped += 1
        elif not r["passed"]:
            message = f"{r['metric']} = {number_text(r['value'])}, needs {r['threshold_text']}" + (
                f" ({number_text(r['threshold'])})" if r.get("baseline") and r["threshold"] is not None else ""
            )
            ET.SubElement(case, "failure", message=_clean(message), type="GateRuleFailed").text = _clean(
                r.get("note") or message
            )
            failures += 1
    cases.set("tests", str(len(texts)))
    cases.set("failures", str(failures))
    cases.set("errors", "0")
    cases.set("skipped", str(skipped))
    root.append(cases)
    suite = ET.SubElement(root, "testsuite", name=f"{spec.name}.steps", timestamp=cases.get("timestamp", ""))
    for s in steps:
        took = (s["ended"] - s["started"]) if s.get("started") and s.get("ended") else 0.0
        case = ET.SubElement(suite, "testcase", classname=f"{spec.name}.steps", name=s["step"], time=f"{took:.3f}")
        if s["state"] == FAILED and s["step"] == "gate" and s.get("output"):
            ET.SubElement(case, "failure", message=_clean(s.get("error") or "the gate failed"), type="GateFailed")
            step_failures += 1
        elif s["state"] == FAILED:
            ET.SubElement(case, "error", message=_clean(s.get("error") or "failed"), type="StepFailed")
            errors += 1
        elif s["state"] != PASSED:
            ET.SubElement(case, "skipped", message=_clean(s.get("error") or s["state"]))
    suite.set("tests", str(len(steps)))
    suite.set("failures", str(step_failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(sum(1 for s in steps if s["state"] not in (PASSED, FAILED))))
    root.set("tests", str(len(texts) + len(steps)))
    root.set("failures", str(failures + step_failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_report(folder: PipelineFolder, spec: PipelineSpec, settings: Settings) -> None:
    """junit.xml, then report.md (last: its presence means the run has ended)."""
    write_atomically(folder.junit, junit(folder, spec).encode())
    write_atomically(folder.report, markdown(folder, spec).encode())


def append_step_summary(report: Path, environ: Mapping[str, str]) -> bool:
    """GitHub Actions: the report appended to $GITHUB_STEP_SUMMARY when it is set; whether it was."""
    target = environ.get(ENV_GITHUB_STEP_SUMMARY, "").strip()
    if not target or not report.is_file():
        return False
    with open(target, "a", encoding="utf-8") as out:
        out.write(report.read_text(encoding="utf-8") + "\n")
    return True
