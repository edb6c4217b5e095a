"""Repaired versions of datasets that Ultralytics cannot read as they are: the layout fixed, the source untouched.

    repairs = diagnose(Path("/data/export"))          # [Repair(kind="split_path", message="train: ...", ...)]
    manifest = repair_dataset("/data/export", settings)   # ml_outputs/datasets/export/v1/, a plain YOLO dataset

What is repaired (one kind each): a data.yaml split path that does not exist while a split folder sits beside it
(split_path); labels kept in a folder where Ultralytics does not look (labels_folder); class ids past the names
list (names: the missing ids are named class_{id}); CVAT's "YOLO 1.1" export (cvat_yolo); a dataset with a single
split, as Label Studio exports it (no_splits: split anew 70/20/10, copies kept together). The repaired version is
written by `write_version`: images linked, labels copied as they are, a data.yaml of its own, validated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.core.user_yaml import read_yaml_file
from mlcore.datasets.labels import label_text, parse_label
from mlcore.datasets.loader import (
    SPLIT_ALIASES,
    YAML_NAMES,
    Dataset,
    DatasetError,
    dataset_confinement,
    guess_split_folder,
    label_path,
    list_images,
    load_dataset,
    outside_entries,
    relative_to,
)
from mlcore.datasets.resplit import parse_proportions
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.datasets.versions import RESPLIT_TOLERANCE, checked_family, read_manifest, resplit_plan, write_version

__all__ = [
    "CVAT_YOLO",
    "DEFAULT_SPLIT",
    "LABELS_FOLDER",
    "NAMES",
    "NO_SPLITS",
    "REPAIR_KINDS",
    "SPLIT_PATH",
    "Repair",
    "diagnose",
    "guess_split_folder",
    "repair_dataset",
]

SPLIT_PATH = "split_path"  # a data.yaml split path that does not exist; a split folder beside it
LABELS_FOLDER = "labels_folder"  # labels in a folder Ultralytics does not read
NAMES = "names"  # class ids the names list does not reach
CVAT_YOLO = "cvat_yolo"  # CVAT's "YOLO 1.1" export (obj.data, obj.names, train.txt)
NO_SPLITS = "no_splits"  # images in one split only
REPAIR_KINDS = (SPLIT_PATH, LABELS_FOLDER, NAMES, CVAT_YOLO, NO_SPLITS)
DEFAULT_SPLIT = "70/20/10"  # how a dataset of one split is split when no --resplit is given
LABELS_DEPTH = 3  # folders this deep under the dataset root are searched for misplaced labels
LABELS_MATCH = 0.5  # a labels folder must hold the labels of at least this share of a split's images
CVAT_DATA, CVAT_NAMES = "obj.data", "obj.names"
SHOWN = 20  # images listed by name in a manifest; the count is complete


@dataclass(frozen=True)
class Repair:
    """One thing a repaired version fixes: its kind (one of REPAIR_KINDS) and a sentence for the user."""

    kind: str
    message: str
    split: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "split": self.split}


@dataclass
class _Reading:
    """The dataset as the repaired version reads it."""

    root: Path  # image paths in messages and the manifest are relative to it
    names: dict[int, str]
    names_known: bool
    images: dict[str, list[tuple[str, str | None]]]  # {split: [(image file, its label file or None)]}
    repairs: list[Repair] = field(default_factory=list)
    tool: str | None = None  # whose single-folder export it is, for the no_splits message
    missing: list[str] = field(default_factory=list)  # images an image list names that are not there

    def rel(self, path: str | Path) -> str:
        return relative_to(self.root, path)


def _folder_of(path: Path) -> Path:
    return path.parent if path.is_file() else path


def _is_cvat(folder: Path) -> bool:
    return (folder / CVAT_DATA).is_file() or ((folder / CVAT_NAMES).is_file() and (folder / "train.txt").is_file())


def _read_cvat(root: Path) -> _Reading:
    """CVAT "YOLO 1.1": obj.data names the image lists (data/train.txt, data/valid.txt) and obj.names, all relative
    to the folder above the export (data/); each image's label is beside it."""
    settings: dict[str, str] = {}
    real_root = root.resolve()

    def within(path: Path) -> bool:  # never read past the export: its lines would end up in the manifest
        return path.resolve().is_relative_to(real_root)

    if within(root / CVAT_DATA) and (root / CVAT_DATA).is_file():
        for line in (root / CVAT_DATA).read_text(encoding="utf-8-sig", errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                settings[key.strip().lower()] = value.strip()

    def inside(text: str) -> Path:
        text = text.strip().replace("\\", "/")
        return root / (text[5:] if text.startswith("data/") else text.lstrip("/"))

    names_file = inside(settings.get("names", CVAT_NAMES))
    if not within(names_file) or not names_file.is_file():
        names_file = root / CVAT_NAMES
    lines = (
        names_file.read_text(encoding="utf-8-sig", errors="replace").splitlines()
        if within(names_file) and names_file.is_file()
        else []
    )
    names = {i: n for i, n in enumerate(x.strip() for x in lines if x.strip())}
    reading = _Reading(root, names, bool(names), {}, tool="CVAT")
    for key in ("train", "valid", "val", "test"):
        split = SPLIT_ALIASES[key]
        listed = inside(settings.get(key, f"{key}.txt"))
        if split in reading.images or not within(listed) or not listed.is_file():
            folder = root / f"obj_{key}_data"  # no list: the images of the folder CVAT writes
            if split not in reading.images and folder.is_dir():
                reading.images[split] = [(i, _beside(i)) for i in list_images(folder)[0]]
            continue
        found: list[tuple[str, str | None]] = []
        for line in listed.read_text(encoding="utf-8-sig", errors="replace").splitlines():
            if not line.strip():
                continue
            image = inside(line)
            if not image.is_file():
                image = root / f"obj_{key}_data" / PureWindowsPath(line.strip()).name  # splits on / and \\
            if not within(image) or not image.is_file():  # never read past the export
                reading.missing.append(line.strip())
                continue
            found.append((str(image), _beside(str(image))))
        reading.images[split] = found
    reading.repairs.append(
        Repair(
            CVAT_YOLO,
            f'a CVAT "YOLO 1.1" export ({CVAT_DATA}, {CVAT_NAMES}, train.txt): the repaired version is '
            "a YOLO dataset with images/train and labels/train.",
        )
    )
    return reading


def _beside(image: str) -> str | None:
    label = os.path.splitext(image)[0] + ".txt"
    return label if os.path.isfile(label) else None


def _yaml_splits(dataset: Dataset) -> tuple[dict[str, list[str]], list[Repair]]:
    """The images of each split, with a missing data.yaml split path read from the split folder beside it."""
    assert dataset.yaml_path is not None
    try:
        data = read_yaml_file(dataset.yaml_path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    data = data if isinstance(data, dict) else {}
    if not data.get("val") and data.get("validation"):
        data["val"] = data["validation"]
    splits = {s: list(v) for s, v in dataset.splits.items()}
    repairs: list[Repair] = []
    missing = {i.split: i.message for i in dataset.issues if i.code == "split_missing" and i.split}
    for split in ("train", "val", "test"):
        if split not in missing or splits.get(split):
            continue
        value = data.get(split)
        guess = guess_split_folder(dataset.root, split)
        if guess is None and split == "test":
            continue  # a missing test split is no obstacle to training (the loader warns): the version has none
        if guess is None:
            raise SubmitError(
                f"{dataset.yaml_path} cannot be repaired: {missing[split].split('; fix')[0]}, and no folder of {split} "
                f"images lies beside data.yaml ({split}/images, images/{split} or {split}/); fix the path in data.yaml."
            )
        folder, count = guess
        splits[split] = list_images(dataset.root / folder)[0]
        shown = value if isinstance(value, str) else ", ".join(str(v) for v in value or [])
        repairs.append(
            Repair(
                SPLIT_PATH,
                f"{split}: '{shown}' does not exist; did you mean '{folder}'? {count} images found there.",
                split,
            )
        )
    return splits, repairs


def _txt_folders(root: Path) -> dict[str, set[str]]:
    """{folder: stems of its .txt files} for the folders up to LABELS_DEPTH levels under `root`."""
    found: dict[str, set[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < LABELS_DEPTH else []
        stems = {n[:-4] for n in filenames if n.endswith(".txt") and n != "classes.txt"}
        if stems:
            found[dirpath] = stems
    return found


def _label_folders(reading: _Reading) -> None:
    """Labels read from the folder that holds them, for a split whose labels are mostly not where Ultralytics looks."""
    folders: dict[str, set[str]] | None = None
    # never a folder where Ultralytics already reads some split's labels (a flat labels/ may serve several)
    taken = {os.path.dirname(label_path(image)) for entries in reading.images.values() for image, _ in entries}
    for split, entries in reading.images.items():
        present = sum(label is not None for _, label in entries)
        if not entries or present * 2 >= len(entries):
            continue
        if folders is None:
            folders = _txt_folders(reading.root)
        stems = [Path(image).stem for image, _ in entries]
        best, matched = None, 0
        for folder, held in folders.items():
            n = sum(s in held for s in stems)
            if folder not in taken and n > matched:
                best, matched = folder, n
        if best is None or matched < LABELS_MATCH * len(entries) or matched <= present:
            continue
        reading.images[split] = [
            (image, label or _existing(os.path.join(best, f"{Path(image).stem}.txt"))) for image, label in entries
        ]
        shown = reading.rel(os.path.dirname(entries[0][0]))
        reading.repairs.append(
            Repair(
                LABELS_FOLDER,
                f"the labels of {shown} are in {reading.rel(best)}/ ({matched} of {len(entries)} "
                "images matched), where Ultralytics does not look; the repaired version puts them in "
                f"labels/{split}.",
                split,
            )
        )


def _existing(path: str) -> str | None:
    return path if os.path.isfile(path) else None


def _read_folder(path: Path, roots: tuple[Path, ...] | None = None) -> _Reading:
    """A dataset the loader knows (data.yaml or a folder layout), split paths and label folders repaired."""
    try:
        dataset = load_dataset(path, roots)
    except DatasetError as exc:
        if not list_images(_folder_of(path))[0]:
            raise SubmitError(
                f"{path} holds no images; give the folder of a dataset (images and their labels)."
            ) from None
        raise SubmitError(f"{path} cannot be repaired: {exc}") from None
    if refused := outside_entries(dataset):
        raise SubmitError(f"{path} cannot be repaired: {refused[0]}")
    repairs: list[Repair] = []
    if dataset.yaml_path is not None:
        splits, repairs = _yaml_splits(dataset)
    else:
        splits = dataset.splits
    images = {s: [(i, _existing(label_path(i))) for i in v] for s, v in splits.items() if v}
    if not images:
        errors = [i.message for i in dataset.issues if i.severity == "error"]
        if errors:
            raise SubmitError(f"{path} cannot be repaired: {errors[0]}")
        raise SubmitError(f"{path} holds no images; give the folder of a dataset (images and their labels).")
    # Label Studio's "YOLO" export: images/ and labels/ without split folders
    flat = dataset.yaml_path is None and not any(
        (dataset.root / paths.IMAGES_DIR / alias).is_dir() for alias in SPLIT_ALIASES
    )
    reading = _Reading(
        dataset.root, dict(dataset.names), dataset.names_known, images, repairs, tool="Label Studio" if flat else None
    )
    _label_folders(reading)
    return reading


def _labels(reading: _Reading) -> dict[str, list[tuple[str, str | None]]]:
    """The plan: each image with its label text (None: a background image, or a label that cannot be read)."""
    return {
        split: [(image, label_text(label)) for image, label in entries] for split, entries in reading.images.items()
    }


def _names(reading: _Reading, plan: dict[str, list[tuple[str, str | None]]]) -> None:
    """Names for the class ids the labels use past the names list."""
    used = {r.cls for entries in plan.values() for _, text in entries if text for r in parse_label(text.encode())[0]}
    top = max(used, default=-1)
    if top < len(reading.names) or top in reading.names:
        return
    first = len(reading.names)
    for n in range(top + 1):
        reading.names.setdefault(n, f"class_{n}")
    given = f"names lists {first} classes" if reading.names_known else "the dataset names no classes"
    ids = f"id {top} 'class_{top}'" if first == top else f"ids {first}–{top} 'class_{first}' … 'class_{top}'"
    reading.repairs.append(
        Repair(
            NAMES,
            f"{given} but the labels use class ids up to {top}; the repaired version names {ids} (rename "
            "them in its data.yaml).",
        )
    )


def _confined(reading: _Reading, path: Path, roots: tuple[Path, ...] | None) -> None:
    """SubmitError naming the first image or label file the repair found (beside images, in a folder it guessed)
    that leads outside the allowed folders, links followed: a version would keep a copy of it for good."""
    allowed = dataset_confinement(path, roots)
    for entries in reading.images.values():
        for image, label in entries:
            for file in (image, label):
                if file is not None and not allowed.allows_file(file):
                    raise SubmitError(
                        f"{path} cannot be repaired: {reading.rel(file)} points outside the allowed "
                        "folders (links followed); keep a dataset's files under the dataset folders "
                        "(ML_STUDIO_DATASET_ROOTS)."
                    )


def _read(
    path: Path, split_text: str, roots: tuple[Path, ...] | None = None
) -> tuple[_Reading, dict[str, list[tuple[str, str | None]]]]:
    folder = _folder_of(path)
    if path.is_file():
        cvat = path.name == CVAT_DATA
    else:
        cvat = not any((folder / n).is_file() for n in YAML_NAMES) and _is_cvat(folder)
    reading = _read_cvat(folder) if cvat else _read_folder(path, roots)
    reading.images = {s: v for s, v in reading.images.items() if v}
    _confined(reading, path, roots)
    if not reading.images:
        raise SubmitError(f"{path} holds no images; give the folder of a dataset (images and their labels).")
    plan = _labels(reading)
    _names(reading, plan)
    if len(reading.images) == 1:
        count = len(next(iter(reading.images.values())))
        tool = f", as {reading.tool} exports them" if reading.tool else ""
        reading.repairs.append(
            Repair(
                NO_SPLITS,
                f"no validation split (one folder of {count} images{tool}): the repaired version splits "
                f"them {split_text} keeping near-copies together.",
            )
        )
    return reading, plan


def diagnose(path: Path) -> list[Repair]:
    """What a repaired version would fix in the dataset at `path` (a resolved folder or data.yaml); [] when nothing.
    SubmitError when there is nothing there a repair could read (no images, a split folder nowhere to be found)."""
    return _read(path, DEFAULT_SPLIT)[0].repairs


def repair_dataset(
    source_text: str,
    settings: Settings,
    resplit: str | None = None,
    name: str | None = None,
    actor: str = "local",
    tolerance: float = RESPLIT_TOLERANCE,
) -> dict[str, Any]:
    """Write a repaired version of the dataset (under settings.outputs_root/datasets/{name}/v{n}/ via
    write_version); its manifest. SubmitError (mlcore.core.errors) with what to do when nothing needs repair or it
    cannot be repaired. A dataset of one split, or any with `resplit` ("80/20"), is split anew without leaks."""
    try:
        wanted = parse_proportions(resplit) if resplit is not None else None
    except ValueError as exc:
        raise SubmitError(str(exc)) from None
    try:
        source = resolve_user_path(source_text, settings.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed as exc:
        raise SubmitError(f"the source dataset cannot be used: {exc}") from None
    reading, plan = _read(source, resplit or DEFAULT_SPLIT, settings.dataset_roots)
    if not reading.repairs and wanted is None:
        raise SubmitError(
            f"{source} can be read as it is; nothing to repair (make a version with --resplit to split it anew)."
        )
    if wanted is None and any(r.kind == NO_SPLITS for r in reading.repairs):
        wanted = parse_proportions(DEFAULT_SPLIT)
    folder = _folder_of(source)
    earlier = read_manifest(folder)  # a version of the studio's own: its repair is the family's next version
    family = checked_family(name or (earlier["name"] if earlier else folder.name), bool(name), settings, source)
    changes: list[dict[str, Any]] = [
        {
            "kind": "repair",
            "repairs": [r.to_dict() for r in reading.repairs],
            "images": sum(map(len, plan.values())),
            "missing_images": len(reading.missing),
            "dropped": reading.missing[:SHOWN],
        }
    ]
    if wanted is not None:
        plan, change = resplit_plan(plan, wanted, tolerance, rel=reading.rel)
        changes.append(change)
    try:
        fingerprint: str | None = fingerprint_of(source)
    except (DatasetError, OSError):
        fingerprint = None  # a layout the loader does not know (a CVAT export)
    parent = {
        "path": str(source),
        "fingerprint": fingerprint,
        "name": earlier["name"] if earlier else None,
        "version": earlier["version"] if earlier else None,
    }
    return write_version(family, plan, reading.names, parent, changes, settings, actor)
