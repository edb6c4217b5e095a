"""Dataset versions over HTTP, as `python -m mlcore dataset ...` makes them: a new version with changes (fixes,
removals, added or merged images, a re-split), the versions made so far, COCO in and out, a repaired version of a
layout Ultralytics cannot read, and what changed between two datasets.

A source is never written: every change is the next version under <outputs>/datasets/{name}/v{n}/, an ordinary
dataset folder that validation, training and evaluation take. Paths are read only under the dataset roots (fix
and removal lists also under the outputs, where audits write fix_list.csv); a relative one is looked up there.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query

from mlcore.api.bodies import CocoImportRequest, DatasetCompareRequest, DatasetRepairRequest, DatasetVersionRequest
from mlcore.api.context import PREFIX, ApiContext, dataset_path
from mlcore.api.errors import ApiError, StudioJSONResponse
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import resolve_user_path
from mlcore.core.settings import PROJECT_ROOT
from mlcore.datasets.coco import export_coco, import_coco
from mlcore.datasets.loader import Dataset, DatasetError, load_dataset, refuse_outside
from mlcore.datasets.repair import diagnose, repair_dataset
from mlcore.datasets.version_diff import compare_datasets
from mlcore.datasets.versions import REMOVE_ERRORS, list_versions, make_version

VERSIONS = f"{PREFIX}/datasets/versions"


def router(ctx: ApiContext) -> APIRouter:
    """The dataset version routes; the ones that write a version take turns (each takes its name's next number)."""
    routes = APIRouter()
    settings = ctx.settings
    writing = threading.Lock()

    def found(text: str, what: str = "dataset", outputs: bool = False) -> Path:
        """The real path `text` names under the dataset roots (and with `outputs` the outputs root), a relative one
        looked up in them as the other routes do; PathNotAllowed (400) saying why if there is none."""
        roots = (*settings.dataset_roots, settings.outputs_root) if outputs else settings.dataset_roots
        return resolve_user_path(dataset_path(text, settings, roots), roots, base=PROJECT_ROOT, what=what)

    def listed(text: str, what: str) -> Path:
        """A fix list or removal list: a file under the dataset roots or the outputs (audits write fix_list.csv
        there)."""
        path = found(text, what, outputs=True)
        if not path.is_file():
            raise ApiError(400, "bad_path", f"{text} is a folder; give the {what} file itself.")
        return path

    def loaded(text: str) -> tuple[Path, Dataset]:
        path = found(text)
        try:
            return path, refuse_outside(load_dataset(path, settings.dataset_roots))
        except DatasetError as exc:
            raise SubmitError(f"the dataset cannot be used: {exc}") from None

    @routes.post("/datasets/versions", status_code=201, summary="Make the next version of a dataset with changes")
    def make(body: DatasetVersionRequest) -> dict:
        remove = body.remove
        if remove is not None:
            remove = REMOVE_ERRORS if remove.strip() == REMOVE_ERRORS else str(listed(remove, "removal list"))
        fixes = listed(body.apply_fixes, "fix list") if body.apply_fixes is not None else None
        with writing:
            return make_version(
                str(found(body.source)),
                settings,
                fixes=fixes,
                remove=remove,
                name=body.name,
                actor=ctx.actor,
                resplit=body.resplit,
                tolerance=body.tolerance,
                add=None if body.add is None else str(found(body.add, "image folder")),
                add_to=body.add_to,
                merge=None if body.merge is None else str(found(body.merge)),
                class_map=body.class_map,
                to=body.to,
            )

    @routes.get("/datasets/versions", summary="Every dataset version under the outputs, newest first")
    def versions() -> list[dict]:
        return list_versions(settings)

    @routes.get("/datasets/versions/{name}/{version}", summary="One dataset version's manifest (version: 2 or v2)")
    def one_version(name: str, version: str) -> dict:
        made = list_versions(settings)
        number = version.lower().removeprefix("v")
        match = next((m for m in made if m["name"] == name and str(m["version"]) == number), None)
        if match is not None:
            return match
        family = sorted(f"v{m['version']}" for m in made if m["name"] == name)
        if family:
            raise ApiError(404, "unknown_version", f"{name} has no version {version!r}; it has {', '.join(family)}.")
        names = sorted({m["name"] for m in made})
        known = f"the versioned datasets are {', '.join(names)}" if names else "none has been made yet"
        raise ApiError(404, "unknown_version", f"no dataset versions named {name!r}: {known}; see GET {VERSIONS}.")

    @routes.post("/datasets/import-coco", status_code=201, summary="A COCO detection dataset as a new YOLO version")
    def coco_in(body: CocoImportRequest) -> dict:
        source = found(body.source, "COCO file")
        images = None if body.images is None else found(body.images, "image folder")
        with writing:
            return import_coco(source, images, settings, name=body.name, actor=ctx.actor)

    @routes.get("/datasets/export-coco", summary="A dataset (or one split) as a COCO detection document")
    def coco_out(
        path: str = Query(description="Dataset folder or data.yaml; a relative path is looked up in the roots."),  # noqa: B008
        split: str | None = Query(None, description="Only this split (default: every split, in one document)."),  # noqa: B008
    ) -> StudioJSONResponse:
        _, dataset = loaded(path)
        if split and not dataset.splits.get(split):
            has = ", ".join(f"{s} ({len(v)} images)" for s, v in dataset.splits.items() if v) or "none with images"
            raise ApiError(404, "unknown_split", f"the dataset has no '{split}' split (it has: {has}).")
        return StudioJSONResponse(export_coco(dataset, split or None))

    @routes.post(
        "/datasets/repair",
        status_code=201,
        summary="A repaired version of a layout Ultralytics cannot read",
        responses={200: {"description": "With check: what a repaired version would fix."}},
    )
    def repair(body: DatasetRepairRequest) -> Any:
        source = found(body.source)
        if body.check:
            repairs = [r.to_dict() for r in diagnose(source)]
            return StudioJSONResponse({"path": str(source), "repairs": repairs}, status_code=200)
        with writing:
            return repair_dataset(
                str(source), settings, resplit=body.resplit, name=body.name, actor=ctx.actor, tolerance=body.tolerance
            )

    @routes.post(
        "/datasets/compare",
        summary="What changed between two datasets: images added, removed, moved, relabelled, and class counts",
    )
    def compare(body: DatasetCompareRequest) -> dict:
        (a, _), (b, _) = loaded(body.a), loaded(body.b)
        return compare_datasets(a, b)

    return routes
