"""The registry's rules (versions, aliases, archive) as a state machine, its refusals, hand edits found by
their hash, the promotion gate, and the A/B flow that reuses or queues evaluations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mlcore.compare.comparison import Side, compare_evaluations
from mlcore.compare.pairing import ComparisonError
from mlcore.compare.store import save_comparison
from mlcore.core import paths
from mlcore.core.hashing import file_sha256
from mlcore.core.settings import Settings, load_settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.datasets.loader import load_dataset
from mlcore.jobs.store import JobState, open_store
from mlcore.registry.ab import ComparisonRequest, start_comparison
from mlcore.registry.lineage import base_chain
from mlcore.registry.promotion import GateRefused, promotion_checks, set_alias
from mlcore.registry.references import resolve_reference
from mlcore.registry.registration import register_model
from mlcore.registry.store import (
    PRODUCTION,
    RegistryError,
    RegistryNotFound,
    audit_trail,
    check_alias,
    integrity_problem,
    move_alias,
    read_model,
    register,
    remove_alias,
    set_archived,
)
from mlcore.registry.views import lineage_graph
from tests.evaluation_fixture import made_up_detections
from tests.registry_fixture import fake_weights, recorded_evaluation, run_with_weights, shifted
from tests.run_fixture import occupy_the_cpu

ALIASES = ("production", "candidate", "shadow")


class RegistryRules(RuleBasedStateMachine):
    """Random registrations, alias moves and archivals against a plain model of what must hold."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.root = Path(tempfile.mkdtemp())
        self.settings = load_settings({"ML_STUDIO_OUTPUTS": str(self.root / "out")})
        self.weights = fake_weights(self.root / "w.pt", size=256)
        self.versions: list[int] = []
        self.archived: set[int] = set()
        self.aliases: dict[str, int] = {}
        self.changes = 0

    @rule()
    def register_one(self) -> None:
        version = register(self.settings, self.weights, "m", "tester")
        assert version.number == len(self.versions) + 1  # numbered from 1, never reused
        self.versions.append(version.number)
        self.changes += 1

    @rule(alias=st.sampled_from(ALIASES), number=st.integers(0, 6))
    def move(self, alias: str, number: int) -> None:
        if number not in self.versions:
            with pytest.raises(RegistryError):
                move_alias(self.settings, "m", alias, number, "tester")
            return
        if number in self.archived:
            with pytest.raises(RegistryError, match="archived"):
                move_alias(self.settings, "m", alias, number, "tester")
            return
        move_alias(self.settings, "m", alias, number, "tester")
        self.aliases[alias] = number
        self.changes += 1

    @rule(alias=st.sampled_from(ALIASES))
    def remove(self, alias: str) -> None:
        if alias not in self.aliases:
            if self.versions:
                with pytest.raises(RegistryNotFound):
                    remove_alias(self.settings, "m", alias, "tester")
            return
        remove_alias(self.settings, "m", alias, "tester")
        del self.aliases[alias]
        self.changes += 1

    @rule(number=st.integers(1, 6), archive=st.booleans())
    def archive(self, number: int, archive: bool) -> None:
        if number not in self.versions:
            return
        if archive and number in self.aliases.values():
            with pytest.raises(RegistryError, match="move or remove those aliases"):
                set_archived(self.settings, "m", number, True, "tester")
            return
        set_archived(self.settings, "m", number, archive, "tester")
        (self.archived.add if archive else self.archived.discard)(number)
        self.changes += 1

    @invariant()
    def matches(self) -> None:
        if not self.versions:
            return
        model = read_model(self.settings, "m")
        assert [v.number for v in model.versions] == self.versions
        assert model.aliases == self.aliases  # each alias on exactly one version
        assert {v.number for v in model.versions if v.archived} == self.archived
        assert not set(model.aliases.values()) & self.archived  # never on an archived version
        assert len(audit_trail(self.settings, "m")) == self.changes  # every change is in the audit trail
        assert all(integrity_problem(model, v) is None for v in model.versions)


TestRegistryRules = RegistryRules.TestCase
TestRegistryRules.settings = hypothesis_settings(
    max_examples=25, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> dict:
    data = settings.outputs_root / paths.DATASETS_DIR / "logos"
    make_demo_dataset(data, images=60, imgsz=96, seed=2)
    v1 = run_with_weights(settings.outputs_root, "logos/v1", data, seed=1)
    v2 = run_with_weights(settings.outputs_root, "logos/v2", data, seed=2, mode="transfer", base_model_path=str(v1))
    return {"data": data, "v1": v1, "v2": v2}


def test_names_and_aliases_are_checked(settings, world) -> None:
    with pytest.raises(RegistryError, match="model name 'Logo Detector' is not allowed"):
        register_model(str(world["v1"]), "Logo Detector", settings)
    for bad in ("v3", "latest", "Prod", ""):
        with pytest.raises(RegistryError):
            check_alias(bad)
    register_model("logos/v1", "logo-detector", settings)  # project/experiment under trainings/ works too
    with pytest.raises(RegistryNotFound, match=r"has no version v7 \(it has: v1\)"):
        move_alias(settings, "logo-detector", "candidate", 7, "tester")
    with pytest.raises(RegistryNotFound, match="no registered model is called 'nope'"):
        resolve_reference("nope@production", settings)
    with pytest.raises(RegistryNotFound, match="has no alias 'production'"):
        resolve_reference("logo-detector@production", settings)


def test_registering_copies_the_weights_with_lineage_and_refuses_unfinished_runs(settings, world) -> None:
    version = register_model(str(world["v2"].parent.parent), "logo-detector", settings, "ana", "more data")
    model = read_model(settings, "logo-detector")
    copy = model.weights(version)
    assert copy.is_relative_to(settings.outputs_root / "registry" / "logo-detector" / "v1")
    assert version.sha256 == file_sha256(world["v2"]) == file_sha256(copy)
    assert version.lineage["run_name"] == "logos/v2" and version.lineage["spec"]["mode"] == "transfer"
    assert version.lineage["dataset"]["path"] == str(world["data"]) and version.lineage["dataset"]["fingerprint"]
    assert version.lineage["base_model"] == {"path": str(world["v1"]), "sha256": file_sha256(world["v1"])}
    assert version.names == {str(k): v for k, v in load_dataset(world["data"]).names.items()} and version.names
    world["v2"].unlink()  # deleting the run's weights never breaks the version
    assert integrity_problem(model, version) is None
    assert resolve_reference("logo-detector:1", settings).path == copy

    empty = run_with_weights(settings.outputs_root, "logos/empty", world["data"])
    empty.unlink()
    with pytest.raises(RegistryError, match="has no weights/best.pt yet"):
        register_model(str(empty.parent.parent), "logo-detector", settings)
    busy = run_with_weights(settings.outputs_root, "logos/busy", world["data"], seed=9)
    open_store(settings).submit("training", {"mode": "full"}, str(busy.parent.parent))
    with pytest.raises(RegistryError, match="is still training"):
        register_model(str(busy.parent.parent), "logo-detector", settings)
    refusal = "outside the allowed folders \\(models are read only from.*ML_STUDIO_MODEL_ROOTS"
    with pytest.raises(RegistryError, match=refusal):
        register_model("/etc/passwd", "logo-detector", settings)


def test_a_registry_folder_edited_by_hand_is_detected(settings, world) -> None:
    version = register_model(str(world["v1"]), "logo-detector", settings)
    model = read_model(settings, "logo-detector")
    model.weights(version).write_bytes(b"something else")
    assert "replaced by hand" in integrity_problem(model, version)
    with pytest.raises(RegistryError, match="replaced by hand"):
        resolve_reference("logo-detector:1", settings)
    model.weights(version).unlink()
    assert "is missing" in integrity_problem(model, version)
    (model.folder / paths.REGISTRY_FILE).write_text("{not json")
    with pytest.raises(RegistryError, match="edited by hand or damaged"):
        read_model(settings, "logo-detector")


def test_the_base_chain_leads_back_to_the_first_version(settings, world) -> None:
    register_model(str(world["v1"]), "logo-detector", settings)
    v3 = run_with_weights(
        settings.outputs_root, "logos/v3", world["data"], seed=3, mode="transfer", base_model_path=str(world["v2"])
    )
    top = register_model(str(v3), "logo-detector", settings)  # v2 is not registered: found through its run folder
    chain = base_chain(top, settings)
    assert [c["run_name"] for c in chain] == ["logos/v2", "logos/v1"]
    assert [c["version"] for c in chain] == [None, "logo-detector:v1"]


def test_the_audit_trail_is_written_to_audit_jsonl_and_an_older_trail_is_still_read(settings, world) -> None:
    """A label audit's file name (audit.json) once shadowed the trail's, so trails went there: both are read."""
    register_model(str(world["v1"]), "logo-detector", settings, "ana", "first")
    folder = read_model(settings, "logo-detector").folder
    assert json.loads((folder / "audit.jsonl").read_text().splitlines()[0])["reason"] == "first"
    assert not (folder / "audit.json").exists()
    older = {"time": 1.0, "user": "bo", "action": "registered v0", "reason": "before the fix"}
    (folder / "audit.json").write_text(json.dumps(older) + "\n")
    assert [e["reason"] for e in audit_trail(settings, "logo-detector")] == ["before the fix", "first"]


def test_the_lineage_graph_writes_aliases_on_a_line_of_their_own(settings, world) -> None:
    """DOT's \\n breaks a label's line; an escaped backslash before it showed a literal \\n on the page."""
    register_model(str(world["v1"]), "logo-detector", settings)
    set_alias(settings, "logo-detector", PRODUCTION, 1, "ana", "first", override=True)
    dot = lineage_graph(settings, "logo-detector")
    raw = re.search(r'"logo-detector:v1" \[label="((?:[^"\\]|\\.)*)"', dot)[1]
    shown = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], raw)  # as Graphviz reads the label
    assert shown.split("\n") == ["logo-detector:v1", "production"]


def _gate_world(settings, world) -> tuple[int, int]:
    register_model(str(world["v1"]), "logo-detector", settings)
    register_model(str(world["v2"]), "logo-detector", settings)
    return 1, 2


def test_the_gate_wants_an_evaluation_passed_exports_and_an_ab_not_worse(settings, world) -> None:
    _gate_world(settings, world)
    with pytest.raises(GateRefused, match="no evaluation on the test split"):
        set_alias(settings, "logo-detector", PRODUCTION, 1, "ana")
    good = made_up_detections(world["data"], "test", seed=3)
    model = read_model(settings, "logo-detector")
    first, second = (model.weights(model.version(n)) for n in (1, 2))
    a = recorded_evaluation(settings.outputs_root, world["data"], first, detections=good, name="e1")
    set_alias(settings, "logo-detector", PRODUCTION, 1, "ana", "first model")  # no production yet: no A/B needed

    b = recorded_evaluation(settings.outputs_root, world["data"], second, detections=shifted(good, 0.6), name="e2")
    export = settings.outputs_root / paths.EXPORTS_DIR / "v2_onnx"
    export.mkdir(parents=True)
    (export / paths.EXPORT_CONFIG).write_text(yaml.safe_dump({"model_path": str(second)}))
    card = {"source": {"sha256": file_sha256(second)}, "formats": [{"format": "onnx", "parity": {"passed": False}}]}
    (export / paths.MODEL_CARD).write_text(json.dumps(card))
    checks = {
        c.name: c
        for c in promotion_checks(
            settings, read_model(settings, "logo-detector"), read_model(settings, "logo-detector").version(2)
        )
    }
    assert checks["evaluation"].passed
    assert not checks["exports"].passed and "v2_onnx (failed)" in checks["exports"].detail
    assert not checks["a/b"].passed and "compare them first" in checks["a/b"].detail

    doc = compare_evaluations(Side("v1", a, sha256=file_sha256(first)), Side("v2", b, sha256=file_sha256(second)))
    save_comparison(doc, settings)
    with pytest.raises(GateRefused, match="significantly worse than production"):
        set_alias(settings, "logo-detector", PRODUCTION, 2, "ana")
    with pytest.raises(RegistryError, match="needs a written reason"):
        set_alias(settings, "logo-detector", PRODUCTION, 2, "ana", override=True)
    set_alias(settings, "logo-detector", PRODUCTION, 2, "ana", "hotfix for a customer", override=True)
    assert read_model(settings, "logo-detector").aliases[PRODUCTION] == 2
    last = audit_trail(settings, "logo-detector")[-1]
    assert last["override"] is True and last["reason"] == "hotfix for a customer" and last["user"] == "ana"
    assert {c["name"]: c["passed"] for c in last["checks"]} == {"evaluation": True, "exports": False, "a/b": False}
    set_alias(settings, "logo-detector", "candidate", 1, "ana")  # other aliases are not gated


def test_ab_reuses_matching_evaluations_and_queues_missing_ones(settings, world) -> None:
    occupy_the_cpu(settings)  # queued evaluations stay queued: no worker runs in this test
    _gate_world(settings, world)
    model = read_model(settings, "logo-detector")
    first = model.weights(model.version(1))
    recorded_evaluation(settings.outputs_root, world["data"], first, imgsz=640, name="e1")
    request = ComparisonRequest("logo-detector:1", "logo-detector:2", str(world["data"]), imgsz=640)
    outcome = start_comparison(request, settings, "ana")
    assert len(outcome.pending) == 1  # v1's evaluation is reused, v2's is queued
    job = open_store(settings).get(outcome.pending[0])
    assert job.kind == "evaluation" and job.spec["model_sha256"] == model.version(2).sha256
    assert start_comparison(request, settings, "ana").pending == outcome.pending  # not queued twice
    store = open_store(settings)
    store.transition(job.id, JobState.STARTING, device="cpu")
    store.transition(job.id, JobState.FAILED, error="CUDA out of memory\nmore")
    with pytest.raises(ComparisonError, match=r"evaluation of model B \(logo-detector v2\) failed: CUDA out of memory"):
        start_comparison(request, settings, "ana")  # said, not queued again (a waiting page would loop)
    with pytest.raises(ComparisonError, match="the dataset cannot be used"):
        start_comparison(ComparisonRequest("logo-detector:1", "logo-detector:2", "/nowhere", imgsz=640), settings)
    with pytest.raises(ComparisonError, match="split='nope'"):
        ComparisonRequest("a", "b", "x", split="nope")


def test_models_of_different_classes_are_not_compared(settings, world) -> None:
    other = settings.outputs_root / paths.DATASETS_DIR / "other"
    make_demo_dataset(other, images=20, imgsz=96, seed=4)
    spec = yaml.safe_load((other / "data.yaml").read_text())
    spec["names"] = {
        **{
            int(k): v
            for k, v in dict(enumerate(spec["names"]) if isinstance(spec["names"], list) else spec["names"]).items()
        },
        0: "sunburst",
    }
    (other / "data.yaml").write_text(yaml.safe_dump(spec))
    elsewhere = run_with_weights(settings.outputs_root, "other/v1", other, seed=7)
    request = ComparisonRequest(str(world["v1"]), str(elsewhere), str(world["data"]))
    with pytest.raises(ComparisonError, match=r"only logos/v1 has solara; only other/v1 has sunburst"):
        start_comparison(request, settings)


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_with_mlflow_on_versions_and_aliases_are_mirrored_in_mlflows_registry(
    settings, world, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ML_STUDIO_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    on = load_settings()
    first = register_model(str(world["v1"]), "logo-detector", on, "ana")
    register_model(str(world["v2"]), "logo-detector", on, "ana")
    assert read_model(on, "logo-detector").version(1).mlflow == {"model_version": "1"}
    move = set_alias(on, "logo-detector", "candidate", 2, "ana")  # not gated
    assert move.version(2).mlflow["alias candidate"] == {"model_version": "2"}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=on.mlflow_uri)
    assert client.get_model_version_by_alias("logo-detector", "candidate").version in ("2", 2)
    assert client.get_model_version("logo-detector", "1").tags["sha256"] == first.sha256
    from mlcore.registry.promotion import unset_alias

    unset_alias(on, "logo-detector", "candidate", "ana")
    assert "candidate" not in read_model(on, "logo-detector").aliases
    assert "candidate" not in client.get_registered_model("logo-detector").aliases


def test_an_export_is_compared_at_its_fixed_input_size(settings, world) -> None:
    occupy_the_cpu(settings)
    folder = settings.outputs_root / paths.EXPORTS_DIR / "v1_best_20261201-120000"
    onnx = fake_weights(folder / "best.onnx", seed=5).rename(folder / "best.onnx")
    (folder / paths.EXPORT_CONFIG).write_text(yaml.safe_dump({"model_path": str(world["v1"])}))
    names = {str(k): v for k, v in load_dataset(world["data"]).names.items()}
    entry = {"format": "onnx", "path": str(onnx), "precision": "fp32", "parity": {"passed": True}}
    card = {"classes": names, "imgsz": 320, "source": {"sha256": file_sha256(world["v1"])}, "formats": [entry]}
    (folder / paths.MODEL_CARD).write_text(json.dumps(card))
    request = ComparisonRequest(str(world["v1"]), str(onnx), str(world["data"]), imgsz=640)
    with pytest.raises(ComparisonError, match=r"fixed input of 320 px; compare at that size \(--imgsz 320\)"):
        start_comparison(request, settings)
    queued = start_comparison(ComparisonRequest(str(world["v1"]), str(onnx), str(world["data"]), imgsz=320), settings)
    assert len(queued.pending) == 2  # both evaluated at 320, the export at its own size
    own = start_comparison(ComparisonRequest(str(world["v1"]), str(onnx), str(world["data"])), settings)
    sizes = {
        open_store(settings).get(j).spec["model_path"]: open_store(settings).get(j).spec["imgsz"] for j in own.pending
    }
    assert sizes == {str(world["v1"]): 640, str(onnx): 320}  # no size asked: each model at its own
