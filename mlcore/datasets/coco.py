"""COCO detection JSON in and out: any dataset exported to COCO, a COCO dataset imported as a YOLO version.

    document = export_coco(load_dataset(path))                     # one document for every split
    manifest = import_coco(Path("instances.json"), Path("images/"), settings)
    manifest = import_coco(Path("roboflow-export/"), None, settings)   # train/, valid/, test/ with their JSON

Import: an image goes to the split its file name says (images/val/…), else to the split of its file (train for a
single file); category ids become contiguous classes in id order, by name (two categories of one name are one class);
`iscrowd` boxes are left out and counted; boxes are clipped to the image and counted; boxes without area are
dropped and listed; images without annotations are kept as backgrounds; images missing from the folder are
listed and left out. A file that cannot be a COCO dataset (duplicate image ids, a category without a name,
annotations of an unknown image or category) is refused with what is wrong.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.images import inspect_image
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import SPLIT_ALIASES, Dataset, label_path
from mlcore.datasets.versions import checked_family, write_version

ROBOFLOW_JSON = "_annotations.coco.json"  # Roboflow's COCO export: one per split folder, beside its images
SHOWN = 20  # problems listed by name in a manifest; the counts are complete


def export_coco(dataset: Dataset, split: str | None = None) -> dict[str, Any]:
    """The dataset (or one split) as a COCO detection document; categories keep the class ids + 1."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for name in [split] if split else list(dataset.splits):
        for path in dataset.splits.get(name, []):
            width, height = inspect_image(path).display_size or (0, 0)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": dataset.rel(path), "width": width, "height": height})
            try:
                rows, _ = parse_label(Path(label_path(path)).read_bytes())
            except OSError:
                rows = []
            for r in rows:
                x, y, w, h = (r.cx - r.w / 2) * width, (r.cy - r.h / 2) * height, r.w * width, r.h * height
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": r.cls + 1,
                        "bbox": [round(x, 3), round(y, 3), round(w, 3), round(h, 3)],
                        "area": round(w * h, 3),
                        "iscrowd": 0,
                    }
                )
    categories = [{"id": k + 1, "name": v, "supercategory": "none"} for k, v in sorted(dataset.names.items())]
    return {
        "info": {"description": f"{dataset.name}, exported by ML Studio"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SubmitError(f"{path} cannot be read as COCO JSON ({exc}).") from None
    if not isinstance(document, dict) or not all(isinstance(document.get(k), list) for k in ("images", "categories")):
        raise SubmitError(f"{path} is not a COCO detection file: it needs lists of 'images' and 'categories'.")
    return document


def _splits(source: Path, images: Path | None) -> dict[str, tuple[Path, Path]]:
    """{split: (json, its image folder)}: one file and its folder, or a Roboflow export's split folders."""
    if source.is_dir():
        found = {
            SPLIT_ALIASES[d.name]: (d / ROBOFLOW_JSON, d)
            for d in sorted(source.iterdir())
            if d.name in SPLIT_ALIASES and (d / ROBOFLOW_JSON).is_file()
        }
        if not found:
            raise SubmitError(
                f"{source} holds no train/, valid/ or test/ folder with {ROBOFLOW_JSON} (Roboflow's COCO "
                "export); or give the instances JSON and --images."
            )
        return found
    if images is None or not images.is_dir():
        raise SubmitError(f"the images of {source.name} are needed: give the folder they are in (--images DIR).")
    return {"train": (source, images)}


def split_of(file_name: str, default: str) -> str:
    """The split a file name says (images/val/a.jpg, valid/images/a.jpg: the studio's own exports keep it), else
    `default`."""
    return next((SPLIT_ALIASES[part] for part in Path(file_name).parts[:-1] if part in SPLIT_ALIASES), default)


def _classes(documents: list[dict[str, Any]]) -> tuple[dict[int, str], dict[int, int]]:
    """Contiguous classes by name in category-id order, and each category id's class."""
    names: dict[int, str] = {}
    of_category: dict[int, int] = {}
    for document in documents:
        for category in sorted(document["categories"], key=lambda c: c.get("id", 0)):
            name = str(category.get("name") or "").strip()
            if not name or "id" not in category:
                raise SubmitError(f"a category without a name or id: {category}; every category needs both.")
            known = next((k for k, v in names.items() if v == name), None)
            if known is None:
                known = len(names)
                names[known] = name
            of_category[int(category["id"])] = known
    return names, of_category


def import_coco(
    source: Path, images: Path | None, settings: Settings, name: str | None = None, actor: str = "local"
) -> dict[str, Any]:
    """A YOLO dataset version from COCO detection JSON; its manifest (`changes` says what was left out). The file
    and its images are read only under the dataset roots; SubmitError saying what is wrong with the file."""
    try:
        source = resolve_user_path(str(source), settings.dataset_roots, base=PROJECT_ROOT, what="COCO file")
        images = (
            None
            if images is None
            else resolve_user_path(str(images), settings.dataset_roots, base=PROJECT_ROOT, what="image folder")
        )
    except PathNotAllowed as exc:
        raise SubmitError(str(exc)) from None
    try:
        return _import(source, images, settings, name, actor)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a value of the wrong kind in the file
        raise SubmitError(
            f"{source.name} is not a usable COCO detection file ({type(exc).__name__}: {exc}); every "
            "image needs an id, a file_name, width and height, every box four numbers."
        ) from None


def _image_file(folder: Path, file_name: str, roots: list[Path]) -> Path:
    """The image a COCO file names, if it lies in its folder (and, links followed, under the dataset roots, given
    resolved)."""
    file = Path(os.path.normpath(folder / file_name))
    real = Path(os.path.realpath(file))
    if not file.is_relative_to(folder) or not any(real.is_relative_to(r) for r in roots):
        raise SubmitError(
            f"the COCO file names an image outside {folder} ({file_name}); images are read only from "
            "the folder given, under the dataset roots."
        )
    return file


def _import(source: Path, images: Path | None, settings: Settings, name: str | None, actor: str) -> dict[str, Any]:
    splits = _splits(source, images)
    roots = [Path(os.path.realpath(r)) for r in settings.dataset_roots]  # resolved once, not for every image
    documents = {split: _read(path) for split, (path, _) in splits.items()}
    names, of_category = _classes(list(documents.values()))
    counted: Counter[str] = Counter()
    dropped: list[str] = []
    plan: dict[str, list[tuple[str, str | None]]] = {}
    for split, document in documents.items():
        folder = splits[split][1]
        ids = [image.get("id") for image in document["images"]]
        if len(ids) != len(set(ids)):
            twice = sorted({i for i in ids if ids.count(i) > 1}, key=str)[:5]
            raise SubmitError(f"{splits[split][0].name} has duplicate image ids {twice}; every image needs its own.")
        by_image: dict[Any, list[str]] = {i: [] for i in ids}
        info = {image["id"]: image for image in document["images"]}
        for annotation in document.get("annotations") or []:
            image = info.get(annotation.get("image_id"))
            if image is None or annotation.get("category_id") not in of_category:
                raise SubmitError(
                    f"annotation {annotation.get('id')} refers to an unknown image or category; "
                    "the file is not consistent."
                )
            if annotation.get("iscrowd"):
                counted["iscrowd"] += 1
                continue
            w, h = float(image.get("width") or 0), float(image.get("height") or 0)
            x, y, bw, bh = (float(v) for v in annotation.get("bbox") or (0, 0, 0, 0))
            x1, y1, x2, y2 = max(0.0, x), max(0.0, y), min(w, x + bw), min(h, y + bh)
            if bw <= 0 or bh <= 0 or x2 <= x1 or y2 <= y1 or not w or not h:
                counted["no_area"] += 1
                dropped.append(f"annotation {annotation.get('id')} of {image.get('file_name')}: box {x, y, bw, bh}")
                continue
            if (x1, y1, x2, y2) != (x, y, x + bw, y + bh):
                counted["clipped"] += 1
            cls = of_category[annotation["category_id"]]
            box = f"{(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
            by_image[image["id"]].append(f"{cls} {box}")
        for image_id in ids:
            file_name = str(info[image_id].get("file_name", "")).replace("\\", "/")  # a name written on Windows
            file = _image_file(folder, file_name, roots)
            if not file.is_file():
                counted["missing_images"] += 1
                dropped.append(f"image {file_name} is not in {folder}")
                continue
            lines = by_image[image_id]
            counted["backgrounds"] += not lines
            plan.setdefault(split_of(file_name, split), []).append((str(file), "".join(f"{t}\n" for t in lines)))
    if not any(plan.values()):
        named = sum(len(d["images"]) for d in documents.values())
        raise SubmitError(
            f"none of the {named} images the file names is in {next(iter(splits.values()))[1]} (e.g. "
            f"{dropped[0].split(' is not in ')[0].removeprefix('image ') if dropped else 'none'}); "
            "give the folder that holds them (--images)."
        )
    family = checked_family(name or (source.stem if source.is_file() else source.name), bool(name), settings, source)
    change = {
        "kind": "import_coco",
        "from": str(source),
        "images": sum(len(v) for v in plan.values()),
        "categories": len(of_category),
        "classes": len(names),
        **{k: counted.get(k, 0) for k in ("iscrowd", "clipped", "no_area", "missing_images", "backgrounds")},
        "dropped": dropped[:SHOWN],
    }
    parent = {"path": str(source), "fingerprint": None, "name": None, "version": None}
    return write_version(family, plan, names, parent, [change], settings, actor)
