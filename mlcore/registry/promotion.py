"""The promotion gate: what a version must show before a gated alias (by default `production`) points at it.

By default: an evaluation on the test split of the dataset it was trained on, a passed parity check for
each of its exports, and an A/B comparison with the current production version that is not
significantly worse. A user may override a failed gate with a written reason; the reason and the
checks that failed are kept in the audit trail.

    checks = promotion_checks(settings, model, version)
    model = set_alias(settings, "logo-detector", "production", 3, user="ana", reason="", override=False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcore.compare.store import list_comparisons
from mlcore.compare.verdict import A_BETTER, B_BETTER
from mlcore.core.settings import Settings
from mlcore.evaluation.store import load_evaluation_metrics
from mlcore.registry.lineage import evaluations_of, exports_of
from mlcore.registry.store import (
    PRODUCTION,
    RegisteredModel,
    RegistryError,
    Version,
    move_alias,
    read_model,
    record_mlflow,
    remove_alias,
)
from mlcore.tracking.registry import delete_alias as mlflow_delete_alias
from mlcore.tracking.registry import set_alias as mlflow_set_alias

GATED_ALIASES = (PRODUCTION,)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class GateRefused(RegistryError):
    """The gate's checks did not all pass and no override was given."""

    def __init__(self, alias: str, checks: list[Check]) -> None:
        failed = "; ".join(c.detail for c in checks if not c.passed)
        super().__init__(f"{alias} cannot move yet: {failed}. Fix these, or override with a written reason.")
        self.checks = checks


def _evaluation_check(model: RegisteredModel, version: Version, settings: Settings) -> Check:
    dataset = (version.lineage.get("dataset") or {}).get("path")
    found = [e for e in evaluations_of(version.sha256, settings) if e.split == "test"]
    mine = [e for e in found if not dataset or e.dataset == dataset]
    if not mine:
        where = f" of {dataset}" if dataset else ""
        how = f"python -m mlcore evaluate --model {model.weights(version)} --data {dataset or 'DATA'} --split test"
        return Check(
            "evaluation",
            False,
            f"v{version.number} has no evaluation on the test split{where}: evaluate "
            f"it on the Model evaluation page or with `{how}`, or compare it (that evaluates it)",
        )
    try:
        score = load_evaluation_metrics(mine[0].path).get("map50_95")
    except ValueError:
        score = None
    shown = f"mAP50-95 {score:.3f}" if isinstance(score, float) else "finished"
    return Check("evaluation", True, f"evaluated on the test split ({mine[0].name}: {shown})")


def _exports_check(version: Version, settings: Settings) -> Check:
    exports = exports_of(version.sha256, settings)
    if not exports:
        return Check("exports", True, "no exports to check")
    bad = [f"{x.name} ({x.verdict})" for x in exports if x.verdict != "passed"]
    if bad:
        return Check("exports", False, f"exports without a passed parity check: {', '.join(bad)}")
    return Check("exports", True, f"parity passed for {len(exports)} export(s)")


def _ab_check(model: RegisteredModel, version: Version, settings: Settings) -> Check:
    if PRODUCTION not in model.aliases or model.aliases[PRODUCTION] == version.number:
        return Check("a/b", True, "no other production version to compare with")
    current = model.version(model.aliases[PRODUCTION])
    pair = {current.sha256, version.sha256}
    for item in list_comparisons(settings):
        doc = item.document
        if {doc["a"].get("sha256"), doc["b"].get("sha256")} != pair or current.sha256 == version.sha256:
            continue
        candidate_is_b = doc["b"].get("sha256") == version.sha256
        worse = doc["verdict"] == (A_BETTER if candidate_is_b else B_BETTER)
        text = f"A/B with production v{current.number} ({item.name}): {doc['summary']}"
        return Check("a/b", not worse, text if not worse else f"significantly worse than production: {text}")
    return Check("a/b", False, f"no A/B comparison with production v{current.number}: compare them first")


def promotion_checks(settings: Settings, model: RegisteredModel, version: Version) -> list[Check]:
    return [
        _evaluation_check(model, version, settings),
        _exports_check(version, settings),
        _ab_check(model, version, settings),
    ]


def set_alias(
    settings: Settings, name: str, alias: str, number: int, user: str, reason: str = "", override: bool = False
) -> RegisteredModel:
    """Move `alias` to version `number`, through the gate for gated aliases; mirrored to MLflow when on."""
    model = read_model(settings, name)
    version = model.version(number)
    details: dict[str, Any] = {}
    if alias in GATED_ALIASES and not version.archived:
        checks = promotion_checks(settings, model, version)
        if not all(c.passed for c in checks):
            if not override:
                raise GateRefused(alias, checks)
            if not reason.strip():
                raise RegistryError("overriding the promotion gate needs a written reason; say why it is safe.")
        details = {"checks": [asdict(c) for c in checks], "override": override and not all(c.passed for c in checks)}
    model = move_alias(settings, name, alias, number, user, reason, **details)
    mirrored = mlflow_set_alias(settings, name, alias, number)
    if mirrored is not None:  # what MLflow answered (or why it failed) stays on the version
        record_mlflow(settings, name, number, {**(version.mlflow or {}), f"alias {alias}": mirrored})
    return read_model(settings, name)


def unset_alias(settings: Settings, name: str, alias: str, user: str, reason: str = "") -> RegisteredModel:
    """Remove `alias` (no gate: nothing is promoted); mirrored to MLflow when on."""
    number = read_model(settings, name).by_alias(alias).number
    model = remove_alias(settings, name, alias, user, reason)
    if (mirrored := mlflow_delete_alias(settings, name, alias)) is not None:
        record_mlflow(settings, name, number, {**(model.version(number).mlflow or {}), f"alias {alias}": mirrored})
    return read_model(settings, name)
