"""Dataset versions: a change to a dataset is a new dataset the studio writes under its outputs, never an edit.

    manifest = make_version("/data/logos", settings, fixes=Path("fix_list.csv"), actor="ana")
    manifest["path"]    # ml_outputs/datasets/logos/v1/: images linked, labels written fresh, data.yaml, manifest.json

A version's images are hard links to the source's where the file system allows (no space used), else symbolic
links, else copies; `links` in the manifest says which. Its labels are written from the source's with the
changes applied. The manifest records the parent (its path, fingerprint and version), every change, who made
it and when, and the fingerprint of the result; the version is validated when made. It is an ordinary dataset
folder: validation, training and evaluation take its path, and every dataset picker finds it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.class_names import class_names
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import Confinement
from mlcore.core.settings import Settings
from mlcore.datasets.fixes import FixListError, apply_fixes, read_fix_list
from mlcore.datasets.images import inspect_image
from mlcore.datasets.labels import label_text, parse_label
from mlcore.datasets.loader import Dataset, label_path, usable_split
from mlcore.datasets.resplit import parse_proportions
from mlcore.datasets.resplit import resplit as resplit_images
from mlcore.datasets.validation.fingerprint import fingerprint_of, fingerprint_of_dataset
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.saved_reports import save_report
from mlcore.datasets.validation.validate import validate
from mlcore.storage.locations import parse_target
from mlcore.storage.push import DATASET_RESULTS, push_results

MANIFEST = "manifest.json"
RESPLIT_TOLERANCE = 0.05  # each split's share of the images may miss the requested one by this much
REMOVE_ERRORS = "errors"  # --remove errors: every image with a validation error
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,63}$")
_VERSION_DIR = re.compile(r"\.?v\d+(\.building)?")  # v3, and .v4.building while it is written


MANIFEST_KEYS = ("name", "version", "path", "parent", "made_at", "changes")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of the version in `folder`; None when there is none (or another tool's manifest.json)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and all(k in manifest for k in MANIFEST_KEYS)
    return manifest if ok and isinstance(manifest["parent"], dict) and "path" in manifest["parent"] else None


def version_of(path: str | Path) -> dict[str, Any] | None:
    """The name, number and parent of the dataset version at `path` (its folder or data.yaml); None for a
    dataset that is no version."""
    folder = Path(path)
    manifest = read_manifest(folder.parent if folder.name == paths.DATA_YAML else folder)
    return None if manifest is None else {k: manifest[k] for k in ("name", "version", "parent", "made_at")}


def dataset_label(path: str | Path) -> str:
    """How lists name a dataset: "logos v2" for a version, else its folder's name."""
    version = version_of(path)
    if version is not None:
        return f"{version['name']} v{version['version']}"
    folder = Path(path)
    return (folder.parent if folder.name == paths.DATA_YAML else folder).name


def lineage_label(path: str | Path) -> str | None:
    """How a picker names a version beside its path: "logos v2, from logos v1" (or from its source folder's name);
    None for a dataset that is no version."""
    version = version_of(path)
    return None if version is None else f"{version['name']} v{version['version']}, from {origin_of(version)}"


def origin_of(manifest: dict[str, Any]) -> str:
    """What a version was made from, as lists name it: "logos v1", or the source folder's name."""
    parent = manifest["parent"]
    return f"{parent['name']} v{parent['version']}" if parent.get("name") else Path(parent["path"]).name


def list_versions(settings: Settings) -> list[dict[str, Any]]:
    """Every dataset version under the outputs, newest first: its manifest."""
    base = settings.outputs_root / paths.DATASETS_DIR
    found = [m for m in (read_manifest(f) for f in base.glob("*/v*") if f.is_dir()) if m]
    return sorted(found, key=lambda m: (m["made_at"], m["name"], m["version"]), reverse=True)


def _removed(dataset: Dataset, source: Path, remove: str | Path) -> set[str]:
    """The images to leave out: every image with a validation error, or those a list file names (one path per
    line, relative to the dataset root)."""
    images = {dataset.rel(i): dataset.rel(i) for split in dataset.splits.values() for i in split}
    if str(remove) == REMOVE_ERRORS:
        report = validate(source, ValidationOptions(near_duplicates=False))
        by_label = {dataset.rel(label_path(dataset.root / i)): i for i in images}  # a label's error removes its image
        flagged = {i.path for i in report.issues if i.severity == "error" and i.path and i.split}
        return {images.get(p) or by_label[p] for p in flagged if p in images or p in by_label}
    try:
        wanted = {line.strip() for line in Path(remove).read_text().splitlines() if line.strip()}
    except (OSError, UnicodeDecodeError) as exc:
        raise SubmitError(f"the list of images to remove cannot be read ({exc}); one path per line.") from None
    known = set(images)
    unknown = sorted(wanted - known)
    if unknown:
        raise SubmitError(
            f"{len(unknown)} image(s) of the list are not in this dataset, e.g. {unknown[0]}; paths are relative to "
            f"{dataset.root} (e.g. {next(iter(sorted(known)), 'images/train/a.jpg')})."
        )
    return wanted


Plan = dict[str, list[tuple[str, str | None]]]  # {split: [(image file, its label text or None)]}


def resplit_plan(
    plan: Plan, wanted: dict[str, float], tolerance: float, rel: Callable[[str], str] = str
) -> tuple[Plan, dict[str, Any]]:
    """The plan's images assigned to splits without leaking copies across them, and the change as the manifest
    says it (`rel` names an image in it); SubmitError saying how close it got when the tolerance cannot be met."""
    everything = [(split, entry) for split, entries in plan.items() for entry in entries]
    facts = [inspect_image(image, with_phash=True) for _, (image, _) in everything]
    classes = [dict(Counter(r.cls for r in parse_label((text or "").encode())[0])) for _, (_, text) in everything]
    split = resplit_images(
        [f.phash for f in facts], [f.sha for f in facts], classes, wanted, maps=[f.foreground for f in facts]
    )
    achieved = {s: round(v, 4) for s, v in split.achieved.items()}
    if split.worst_gap(wanted) > tolerance:
        said = ", ".join(f"{s} {100 * v:.1f}%" for s, v in achieved.items())
        raise SubmitError(
            f"no split keeps copies together within ±{100 * tolerance:.0f} points of {_percent(wanted)}: the "
            f"closest is {said} (the largest group of copies holds {split.largest_group} of {len(everything)} "
            "images). Remove copies first, or allow more (--tolerance)."
        )
    result: Plan = {s: [] for s in wanted}
    moves = []
    for (old, entry), new in zip(everything, split.split_of, strict=True):
        result[new].append(entry)
        if new != old:
            moves.append({"image": rel(entry[0]), "from": old, "to": new})
    change = {
        "kind": "resplit",
        "requested": {s: round(v, 4) for s, v in wanted.items()},
        "achieved": achieved,
        "groups": split.groups,
        "largest_group": split.largest_group,
        "moved": len(moves),
        "moves": moves[:50],
        "class_share": split.class_share,
    }
    return result, change


def _percent(wanted: dict[str, float]) -> str:
    return "/".join(f"{100 * v:.0f}" for v in wanted.values())


def _added(dataset: Dataset, folder_text: str, settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The labelled images of a folder in YOLO layout (images/ and labels/, as the images to label next are
    exported and a labelling tool returns them), their labels with class ids mapped to the dataset's by name
    (classes.txt), and notes; SubmitError when an image has no label or a class is not the dataset's."""
    folder, added = usable_split(folder_text, settings, what="the folder of images to add")
    found = [i for images in added.splits.values() for i in images]
    if not found:
        raise SubmitError(f"{folder} holds no images in images/; add a folder with images/ and labels/.")
    unlabelled = [added.rel(i) for i in found if not Path(label_path(i)).is_file()]
    if unlabelled:
        raise SubmitError(
            f"{len(unlabelled)} of {len(found)} images to add have no label file, e.g. {unlabelled[0]}: label them "
            "(an empty .txt for an image without objects), or leave them out."
        )
    ours = {v: k for k, v in dataset.names.items()}
    theirs = added.names if added.names_known else {k: dataset.names[k] for k in dataset.names}
    foreign = sorted({v for v in theirs.values() if v not in ours})
    if foreign:
        raise SubmitError(
            f"the images to add use classes the dataset does not have ({', '.join(foreign)}; it has "
            f"{', '.join(ours)}): rename them in classes.txt, or merge the two datasets instead."
        )
    to_ours = {k: ours[v] for k, v in theirs.items()}
    labels = {dataset.rel(label_path(i)): _remapped_label(i, to_ours, added, "") or "" for i in found}
    return found, labels


def _remapped_label(image: str, to_ours: dict[int, int], owner: Dataset, what: str) -> str | None:
    """The label of `image` with its class ids mapped by `to_ours`; None without a label file; SubmitError naming
    the file for a bad line or a class id the mapping lacks."""
    try:
        rows, problems = parse_label(Path(label_path(image)).read_bytes())
    except OSError:
        return None
    stray = [r.cls for r in rows if r.cls not in to_ours]
    if problems or stray:
        why = problems[0].message if problems else f"class id {stray[0]} is not in its names"
        raise SubmitError(f"{what}{owner.rel(label_path(image))}: {why}; fix or remove it.")
    return "".join(f"{to_ours[r.cls]} {r.cx:.6f} {r.cy:.6f} {r.w:.6f} {r.h:.6f}\n" for r in rows)


def parse_class_map(pairs: list[str]) -> dict[str, str]:
    """--map lines such as "Logo=logo" (their class = ours, or a new name) as {their name: the version's name}."""
    mapping = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise SubmitError(f"--map {pair!r}; write THEIRS=OURS, e.g. 'Logo=logo'.")
        mapping[theirs.strip()] = ours.strip()
    return mapping


def _merged(
    dataset: Dataset, names: dict[int, str], other_text: str, class_map: dict[str, str], settings: Settings
) -> tuple[dict[str, list[str]], dict[str, str], dict[int, str], dict[str, Any]]:
    """The other dataset's images per split with their labels in the merged classes: a class of the same name (or
    the name `class_map` gives it) is one class, any other is appended. Its images, labels, the merged names and
    the change."""
    folder, other = usable_split(other_text, settings, what="the dataset to merge")
    if folder == dataset.source or other.root == dataset.root:
        raise SubmitError("a dataset cannot be merged with itself; give another dataset to merge.")
    theirs = other.names
    unknown = sorted(set(class_map) - set(theirs.values()))
    if unknown:
        raise SubmitError(
            f"--map names {', '.join(unknown)}, which the dataset to merge does not have (it has "
            f"{', '.join(theirs.values())})."
        )
    merged = dict(names)
    ours = {v: k for k, v in merged.items()}
    of_theirs: dict[int, int] = {}
    for cls, name in sorted(theirs.items()):
        target = class_map.get(name, name)
        if target not in ours:  # appended: the next class id
            ours[target] = max(merged, default=-1) + 1
            merged[ours[target]] = target
        of_theirs[cls] = ours[target]
    images: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for split, split_images in other.splits.items():
        images[split] = list(split_images)
        for image in split_images:
            text = _remapped_label(image, of_theirs, other, "the dataset to merge: ")
            if text is not None:  # else a background image
                labels[dataset.rel(label_path(image))] = text
    change = {
        "kind": "merge",
        "from": str(folder),
        "fingerprint": fingerprint_of_dataset(other),
        "images": {s: len(v) for s, v in images.items()},
        "classes": {theirs[c]: merged[k] for c, k in of_theirs.items()},
        "appended": [merged[k] for k in sorted(merged) if k not in names],
    }
    return images, labels, merged, change


def _link(source: str, target: Path) -> str:
    """Hard link, else symbolic link, else copy; which one it was."""
    try:
        os.link(source, target)
        return "hardlink"
    except OSError:
        pass
    try:
        target.symlink_to(os.path.realpath(source))
        return "symlink"
    except OSError:
        shutil.copy2(source, target)
        return "copy"


def _family(name: str | None, dataset: Dataset, settings: Settings, source: Path) -> str:
    parent = read_manifest(dataset.root)
    return checked_family(name or (parent["name"] if parent else dataset.name), bool(name), settings, source)


def _folder(path: str | Path) -> str:
    """A dataset's folder, named by the folder or by its data.yaml."""
    return str(Path(path).parent if Path(path).name == paths.DATA_YAML else Path(path))


def _related(manifests: list[dict[str, Any]], source: Path) -> bool:
    """Whether `source` (a dataset folder or data.yaml) is one of these versions or what one was made from."""
    return any(_folder(source) in (m["path"], _folder(m["parent"]["path"])) for m in manifests)


def default_family(text: str) -> str:
    """A usable versions' name from a folder's or file's name ("task cars-2023 (yolo 1.1)" -> "task-cars-2023-yolo-
    1.1")."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-._")[:64] or "dataset"


def checked_family(family: str, chosen: bool, settings: Settings, source: Path | None = None) -> str:
    """The versions' name, if usable: a plain name, not a dataset of another kind, and not versions of another
    source. A name the user `chosen` is refused when it cannot be used; a default one becomes the first free
    or related of name-versions, name-2, name-3, …"""
    family = family if chosen else default_family(family)
    if not _NAME.match(family):
        raise SubmitError(f"name={family!r}; use letters, digits, '.', '_' or '-' (e.g. 'logos-clean').")
    for candidate in [family] if chosen else [family, f"{family}-versions", *(f"{family}-{n}" for n in range(2, 100))]:
        base = settings.outputs_root / paths.DATASETS_DIR / candidate
        entries = os.listdir(base) if base.is_dir() else []
        manifests = [m for m in (read_manifest(base / d) for d in entries) if m]
        if entries and not manifests and not any(_VERSION_DIR.fullmatch(d) for d in entries):  # one being written
            if chosen:
                raise SubmitError(f"a dataset named '{family}' exists and is not a set of versions; pick another name.")
            continue  # e.g. the demo dataset's own folder there
        if manifests and source is not None and not _related(manifests, source):
            if chosen:
                raise SubmitError(
                    f"versions named '{family}' exist and come from {manifests[0]['parent']['path']}, "
                    f"not from {source}; pick another name, or start from one of them."
                )
            continue
        return candidate
    raise SubmitError(f"no free name for the versions of '{family}'; give one (--name).")


def make_version(
    source_text: str,
    settings: Settings,
    fixes: Path | None = None,
    remove: str | Path | None = None,
    name: str | None = None,
    actor: str = "local",
    resplit: str | None = None,
    tolerance: float = RESPLIT_TOLERANCE,
    add: str | None = None,
    add_to: str = "train",
    merge: str | None = None,
    class_map: dict[str, str] | None = None,
    to: str | None = None,
) -> dict[str, Any]:
    """Write the next version of `source_text`'s dataset with the changes applied (fixes, then removals, then the
    added images, then a merged dataset, then a re-split such as "70/20/10"); its manifest. `to`: a bucket
    (s3://BUCKET/PREFIX or LOCATION:PREFIX) the version is uploaded to, under datasets/NAME/vN/; the manifest's
    "upload" says where it went, or why not yet (a failed upload is retried by the next scheduling step)."""
    if to:
        parse_target(to, settings)  # a destination the studio may not write refuses before anything is made
    if fixes is None and remove is None and resplit is None and add is None and merge is None:
        raise SubmitError(
            "nothing to change: give a fix list to apply, images to add or remove, a dataset to merge, or a re-split."
        )
    if class_map and merge is None:
        raise SubmitError("a class mapping is for merging; give the dataset to merge too (--merge DIR).")
    if add_to not in paths.SPLITS:
        raise SubmitError(f"split={add_to!r}; add images to one of {', '.join(paths.SPLITS)}.")
    try:
        wanted = parse_proportions(resplit) if resplit is not None else None
    except ValueError as exc:
        raise SubmitError(str(exc)) from None
    source, dataset = usable_split(source_text, settings, what="the source dataset")
    family = _family(name, dataset, settings, source)
    fingerprint = fingerprint_of_dataset(dataset)
    images = {s: list(v) for s, v in dataset.splits.items()}
    labels: dict[str, str] = {}
    for split_images in images.values():
        for image in split_images:
            if (text := label_text(label_path(image))) is not None:  # else a background image
                labels[dataset.rel(label_path(image))] = text
    changes: list[dict[str, Any]] = []
    if fixes is not None:
        try:
            listed = read_fix_list(Path(fixes))
            labels, counts = apply_fixes(labels, listed)
        except FixListError as exc:
            raise SubmitError(str(exc)) from None
        changes.append({"kind": "apply_fixes", "file": str(fixes), "fixes": len(listed), **counts})
    if remove is not None:
        gone = _removed(dataset, source, remove)
        images = {s: [i for i in v if dataset.rel(i) not in gone] for s, v in images.items()}
        changes.append({"kind": "remove", "from": str(remove), "images": len(gone), "removed": sorted(gone)})
    if add is not None:
        found, added_labels = _added(dataset, add, settings)
        images.setdefault(add_to, []).extend(found)
        labels |= added_labels
        changes.append({"kind": "add", "from": str(add), "split": add_to, "images": len(found)})
    names = dict(dataset.names)
    if merge is not None:
        merged_images, merged_labels, names, change = _merged(dataset, names, merge, class_map or {}, settings)
        for split, split_images in merged_images.items():
            images.setdefault(split, []).extend(split_images)
        labels |= merged_labels
        changes.append(change)
    plan = {s: [(i, labels.get(dataset.rel(label_path(i)))) for i in v] for s, v in images.items()}
    if wanted is not None:
        plan, change = resplit_plan(plan, wanted, tolerance, dataset.rel)
        changes.append(change)
    parent = read_manifest(dataset.root)
    lineage = {
        "path": str(source),
        "fingerprint": fingerprint,
        "name": parent["name"] if parent else None,
        "version": parent["version"] if parent else None,
    }
    manifest = write_version(family, plan, names, lineage, changes, settings, actor)
    if to:
        manifest["upload"] = push_results(Path(manifest["path"]), DATASET_RESULTS, settings, destination=to)
    return manifest


def _claim(base: Path) -> tuple[int, Path, Path]:
    """The next version's number, folder and building folder, the building folder made here: two writers (pages,
    the API, the command line) never take one number."""
    number = max(
        [int(m.group(1)) for d in os.listdir(base) if (m := re.fullmatch(r"\.?v(\d+)(?:\.building)?", d))] or [0]
    )
    while True:
        number += 1
        building = base / f".v{number}.building"
        try:
            building.mkdir()
        except FileExistsError:
            continue
        if not (base / f"v{number}").exists():
            return number, base / f"v{number}", building
        building.rmdir()


def _build(building: Path, plan: Plan) -> dict[str, int]:
    """The plan's images linked and labels written into `building`; how many images were linked each way."""
    links: dict[str, int] = {}
    for split, entries in plan.items():
        (building / paths.IMAGES_DIR / split).mkdir(parents=True, exist_ok=True)
        (building / paths.LABELS_DIR / split).mkdir(parents=True, exist_ok=True)
        used: set[str] = set()
        for image, text in entries:
            stem, suffix = Path(image).stem, Path(image).suffix
            while stem.lower() in used:  # a.jpg and a.png, or two folders' a.jpg: Ultralytics reads labels by stem
                stem = f"{stem}_"
            used.add(stem.lower())
            kind = _link(image, building / paths.IMAGES_DIR / split / f"{stem}{suffix}")
            links[kind] = links.get(kind, 0) + 1
            if text is not None:
                (building / paths.LABELS_DIR / split / f"{stem}.txt").write_text(text)
    return links


def write_version(
    family: str,
    plan: Plan,
    names: dict[int, str],
    parent: dict[str, Any],
    changes: list[dict[str, Any]],
    settings: Settings,
    actor: str,
) -> dict[str, Any]:
    """Write `ml_outputs/datasets/{family}/v{next}/` from `plan` ({split: [(image file, its label text or None)]}):
    images linked, labels written, data.yaml, then the validation and manifest.json; the manifest."""
    if not any(plan.values()):
        raise SubmitError("the version would hold no images; keep some (check what the changes remove or find).")
    allowed = Confinement(settings.dataset_roots)  # a link made now would keep the file for good
    if stray := next((i for entries in plan.values() for i, _ in entries if not allowed.allows_file(i)), None):
        raise SubmitError(
            f"{stray} points outside the allowed folders (links followed); a version links only "
            "images under the dataset folders (ML_STUDIO_DATASET_ROOTS)."
        )
    base = settings.outputs_root / paths.DATASETS_DIR / family
    base.mkdir(parents=True, exist_ok=True)
    number, folder, building = _claim(base)
    try:
        links = _build(building, plan)
        classes = class_names(names)
        data = {
            "path": str(folder),
            **{s: f"{paths.IMAGES_DIR}/{s}" for s in plan},
            "nc": len(classes),
            "names": classes,
        }
        (building / paths.DATA_YAML).write_text(
            f"# Version {number} of {family}, made by ML Studio from {parent['path']}.\n"
            + yaml.safe_dump(data, sort_keys=False)
        )
        building.rename(folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)  # nothing half-written is left to look like a version
        raise
    report = validate(folder, ValidationOptions(), cache_path=settings.image_facts_cache)
    saved = save_report(report, settings.outputs_root)
    manifest = {
        "name": family,
        "version": number,
        "path": str(folder),
        "parent": parent,
        "changes": changes,
        "made_by": actor,
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
        "counts": {s: len(v) for s, v in plan.items()},
        "fingerprint": fingerprint_of(folder),
        "validation": {**report.severity_counts(), "report": str(saved.folder)},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest
