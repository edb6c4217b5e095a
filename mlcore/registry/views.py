"""The registry as the pages, the CLI and the API show it: plain documents built from the files.

rows = models_table(settings)                      # one row per registered model
document = model_document(settings, "logo-detector")   # versions, metrics, lineage, audit trail
dot = lineage_graph(settings, "logo-detector")     # Graphviz DOT: version -> run -> dataset, base chains
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.settings import Settings
from mlcore.datasets.versions import dataset_label
from mlcore.engine.architectures import family_label
from mlcore.evaluation.store import EvaluationSummary, EvaluationUnreadable, load_evaluation_metrics
from mlcore.registry.lineage import base_chain, evaluations_of, exports_of
from mlcore.registry.store import (
    RegisteredModel,
    Version,
    audit_trail,
    integrity_problem,
    list_models,
    read_model,
)

HEADLINE = ("map50_95", "map50", "precision", "recall", "f1")


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M") if stamp else ""


def headline(version: Version, evaluations: list[EvaluationSummary]) -> dict[str, Any]:
    """The newest test-split evaluation's numbers (else the newest of any split), and where they come from."""
    found = sorted(evaluations, key=lambda e: (e.split != "test", -e.created))
    for item in found:
        try:
            metrics = load_evaluation_metrics(item.path)
        except EvaluationUnreadable:
            continue
        return {**{k: metrics.get(k) for k in HEADLINE}, "split": item.split, "evaluation": item.name}
    best = version.lineage.get("best_map50_95")
    return {"map50_95": best, "split": "training (val)" if best is not None else "", "evaluation": ""}


def _profile(path: Path) -> dict[str, Any] | None:
    """The deployment profile registered with the version: its thresholds and how they were chosen."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = ("confidence", "iou", "per_class", "objective", "evaluation", "nms_free")
    return {k: data.get(k) for k in keys} if isinstance(data, dict) else None


def version_row(model: RegisteredModel, version: Version, settings: Settings) -> dict[str, Any]:
    evaluations = evaluations_of(version.sha256, settings)
    numbers = headline(version, evaluations)
    exports = exports_of(version.sha256, settings)
    return {
        "version": version.number,
        "aliases": model.aliases_of(version.number),
        "archived": version.archived,
        "created": _when(version.created),
        "by": version.by,
        "reason": version.reason,
        "sha256": version.sha256,
        "size_mb": round(version.size / 2**20, 1),
        "run": version.lineage.get("run_name"),
        "architecture": (version.lineage.get("spec") or {}).get("model_architecture") or "?",
        "family": family_label((version.lineage.get("spec") or {}).get("model_architecture")),
        "dataset": (version.lineage.get("dataset") or {}).get("path", ""),
        **{k: numbers.get(k) for k in HEADLINE},
        "measured_on": numbers.get("split", ""),
        "exports": [{"name": x.name, "verdict": x.verdict} for x in exports],
        "evaluations": [{"name": e.name, "split": e.split, "dataset": e.dataset} for e in evaluations],
        "problem": integrity_problem(model, version),
        "weights": str(model.weights(version)),
        "profile": _profile(model.weights(version).parent / paths.PROFILE_FILE),
        "mlflow": version.mlflow,
    }


def models_table(settings: Settings) -> list[dict[str, Any]]:
    rows = []
    for model in list_models(settings):
        live = [v for v in model.versions if not v.archived]
        rows.append(
            {
                "name": model.name,
                "versions": len(model.versions),
                "active": len(live),
                "aliases": {a: f"v{n}" for a, n in sorted(model.aliases.items())},
                "latest": f"v{model.versions[-1].number}" if model.versions else "",
                "created": _when(model.created),
            }
        )
    return rows


def model_document(settings: Settings, name: str) -> dict[str, Any]:
    """Everything about one model: aliases, each version with its numbers, lineage and base chain, the audit."""
    model = read_model(settings, name)
    versions = []
    for version in model.versions:
        row = version_row(model, version, settings)
        row["lineage"] = {**version.lineage, "base_chain": base_chain(version, settings)}
        versions.append(row)
    return {
        "name": model.name,
        "created": _when(model.created),
        "aliases": dict(model.aliases),
        "versions": versions,
        "audit": audit_trail(settings, name),
    }


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, line breaks as DOT's own \\n (centred lines)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lineage_graph(settings: Settings, name: str) -> str:
    """Graphviz DOT of the model's versions: each version -> its run -> its dataset, and -> the version (or
    model) it was fine-tuned from; aliases are written on their version."""
    model = read_model(settings, name)
    lines = [
        "digraph lineage {",
        "rankdir=LR;",
        'node [shape=box, style="rounded,filled", fillcolor="#eef2ff", fontname="Helvetica", fontsize=11];',
        'edge [color="#6b7280", fontsize=9];',
    ]
    for version in model.versions:
        node = f"{model.name}:v{version.number}"
        aliases = model.aliases_of(version.number)
        label = (
            f"{node}" + (f"\n{', '.join(aliases)}" if aliases else "") + ("\n(archived)" if version.archived else "")
        )
        colour = "#dcfce7" if "production" in aliases else "#f3f4f6" if version.archived else "#eef2ff"
        lines.append(f"{_quote(node)} [label={_quote(label)}, fillcolor={_quote(colour)}];")
        run = version.lineage.get("run_name")
        dataset = (version.lineage.get("dataset") or {}).get("path")
        if run:
            lines.append(f'{_quote("run " + run)} [shape=ellipse, fillcolor="#fef9c3"];')
            lines.append(f'{_quote(node)} -> {_quote("run " + run)} [label="trained in"];')
            if dataset:
                data = _quote("data " + dataset_label(dataset))  # a version by its name and number
                lines.append(f'{data} [shape=cylinder, fillcolor="#e0f2fe"];')
                lines.append(f'{_quote("run " + run)} -> {data} [label="on"];')
        previous = node
        for base in base_chain(version, settings):
            target = base["version"] or f"{Path(base['path']).name} ({base.get('sha256', '')[:8]})"
            lines.append(f'{_quote(previous)} -> {_quote(target)} [label="fine-tuned from", style=dashed];')
            if base["version"]:
                break  # a registered base draws its own chain
            previous = target
    lines.append("}")
    return "\n".join(lines)
