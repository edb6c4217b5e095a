"""Reading a YOLO dataset as Ultralytics would: data.yaml, or an images/labels folder layout.

Accepted: a `data.yaml` (Ultralytics semantics, including Roboflow's `../train/images` paths), a
folder holding one, a folder with `images/<split>` + `labels/<split>`, or split-first
`<split>/images` + `<split>/labels`. Nothing is written, and `download:` is never run.

A dataset's own contents are paths too: data.yaml's `path:`, its split entries (folders, image lists and their
lines), classes.txt, and every image and label file, links followed, are read only under the allowed roots (the
dataset roots of the settings, which hold the studio's own datasets, and the dataset's own folder). What leads
elsewhere is left out, unread, and reported as an `outside_roots` error naming the entry, in the same words whether
or not anything is there.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcore.core.class_names import class_names
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import OUTSIDE, Confinement, PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings, load_settings
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_file
from mlcore.datasets.images import IMAGE_EXTENSIONS
from mlcore.datasets.issues import Issue
from mlcore.storage.datasets import dataset_from

YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
# Image formats people put in datasets that training does not read.
UNSUPPORTED_IMAGE_EXTENSIONS = frozenset(
    {
        "gif",
        "jfif",
        "jpe",
        "pjpeg",
        "pjp",
        "ico",
        "svg",
        "psd",
        "cr2",
        "nef",
        "arw",
        "exr",
        "hdr",
        "pgm",
        "ppm",
        "pbm",
        "jxl",
    }
)
CLASSES_FILES = ("classes.txt", "labels/classes.txt", "obj.names")
SHOWN_OUTSIDE = 20  # files of a split refused by name; the rest are counted in one more issue


class DatasetError(ValueError):
    """The dataset cannot be read at all; the message says what was expected."""


@dataclass
class Dataset:
    """Where a dataset's images are, per split, and what reading it already revealed."""

    source: Path
    root: Path
    layout: str
    names: dict[int, str]
    names_known: bool
    yaml_path: Path | None = None
    splits: dict[str, list[str]] = field(default_factory=dict)
    """Image paths per split (plain strings: datasets can hold hundreds of thousands)."""
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.root.name or "dataset"

    def rel(self, path: Path | str) -> str:
        """`path` relative to the dataset root (absolute when it lies elsewhere)."""
        return relative_to(self.root, path)

    def describe(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "root": str(self.root),
            "layout": self.layout,
            "name": self.name,
            "yaml": None if self.yaml_path is None else str(self.yaml_path),
            "names": {str(k): v for k, v in self.names.items()},
            "nc": len(self.names),
            "names_known": self.names_known,
            "splits": {s: len(v) for s, v in self.splits.items()},
        }


def relative_to(root: Path, path: Path | str) -> str:
    """`path` relative to `root` as a plain string (absolute when it lies elsewhere): cheap for many images."""
    text, prefix = os.fspath(path), f"{root}{os.sep}"
    return text[len(prefix) :] if text.startswith(prefix) else text


def label_path(image: Path | str) -> str:
    """The label file Ultralytics reads for `image`: last /images/ -> /labels/, extension -> .txt."""
    text = os.fspath(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(text.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def list_images(folder: Path) -> tuple[list[str], list[str]]:
    """Image files under `folder` (recursive, links to folders not followed) and unsupported ones."""
    images, unsupported = [], []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=None):
        dirnames.sort()
        for name in filenames:
            ext = name.rpartition(".")[-1].lower() if "." in name else ""
            if ext in IMAGE_EXTENSIONS:
                images.append(os.path.join(dirpath, name))
            elif ext in UNSUPPORTED_IMAGE_EXTENSIONS:
                unsupported.append(os.path.join(dirpath, name))
    return sorted(images), sorted(unsupported)


def guess_split_folder(root: Path, split: str) -> tuple[str, int] | None:
    """The folder beside a data.yaml (in `root`) that most likely holds `split`'s images, as (its path relative to
    `root`, its image count): the first of {alias}/images, images/{alias}, {alias} that holds images, for each of
    the split's names (val: val, valid, validation)."""
    real_root = os.path.realpath(root)
    for alias in (a for a, s in SPLIT_ALIASES.items() if s == split):
        for folder in (f"{alias}/images", f"images/{alias}", alias):
            if (root / folder).is_dir() and os.path.realpath(root / folder).startswith(real_root + os.sep):
                found = len(list_images(root / folder)[0])
                if found:
                    return folder, found
    return None


def _read_list_file(path: Path, allowed: Confinement, root: Path, split: str, issues: list[Issue]) -> list[str]:
    """The images an image list names; lines that lead outside the allowed folders are left out and reported."""
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    out, refused = [], []
    for number, line in enumerate((x.strip() for x in lines), start=1):
        if not line:
            continue
        p = Path(line[2:]) if line.startswith("./") else Path(line)
        p = p if p.is_absolute() else path.parent / p
        if p.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS:
            image = os.path.normpath(p)
            if allowed.allows_file(image):
                out.append(image)
            else:
                refused.append(f"line {number} ('{line}')")
    if refused:
        more = f" and {len(refused) - 3:,} more lines" if len(refused) > 3 else ""
        issues.append(
            _outside(
                f"{relative_to(root, path)}: {', '.join(refused[:3])}{more}",
                relative_to(root, path),
                split,
                plural=len(refused) > 1,
            )
        )
    return out


def one_line(text: str) -> str:
    """`text` with its line breaks and other control characters written as escapes (a newline as \\n): a class
    name that reaches a log (Ultralytics prints each class's metrics) stays on its line and writes no fake one."""
    if text.isprintable():
        return text
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text
    )


def _names_from(value: Any) -> dict[int, str] | None:
    if isinstance(value, list):
        return {i: str(n) for i, n in enumerate(value)}
    if isinstance(value, dict):
        try:
            return dict(sorted(class_names(value).items()))
        except (TypeError, ValueError):
            return None
    return None


def _issue(code: str, severity: str, message: str, path: str | None = None, split: str | None = None) -> Issue:
    return Issue(code=code, severity=severity, split=split, path=path, line=None, message=message)  # type: ignore[arg-type]


def _outside(entry: str, path: str | None, split: str | None = None, plural: bool = False) -> Issue:
    """The refusal of an entry that leads outside the allowed folders: the same words whether or not anything is
    there, so that nobody learns which files exist by pointing a dataset at them."""
    return _issue(
        "outside_roots",
        "error",
        f"{entry} {'point' if plural else 'points'} {OUTSIDE} (links followed) and {'are' if plural else 'is'} not "
        "read; keep a dataset's files under the dataset folders (ML_STUDIO_DATASET_ROOTS) and point to them there.",
        path,
        split,
    )


def _load_yaml(yaml_file: Path, source: Path, allowed: Confinement) -> Dataset:
    """A data.yaml read in four steps: the mapping, its class names, the folder its splits are read from, then
    each split's entries. Every problem is an issue of the dataset; only an unreadable file is an exception."""
    issues: list[Issue] = []
    data = _read_mapping(yaml_file, allowed, issues)
    names, names_known = _class_names(data or {}, yaml_file.name, issues) if data is not None else ({}, False)
    dataset = Dataset(
        source=source,
        root=yaml_file.parent,
        layout="data.yaml",
        names=names,
        names_known=names_known,
        yaml_path=yaml_file,
        issues=issues,
    )
    if data is None:
        return dataset
    if "download" in data:
        issues.append(
            _yaml_issue(
                yaml_file.name,
                f"{yaml_file.name} has a download: key. The studio never runs it; Ultralytics would "
                "execute it (as Python or shell) when a split is missing. Remove it.",
                "warning",
                "download_key",
            )
        )
    base = _base_folder(data, yaml_file, allowed, issues)
    if base is None:
        return dataset
    if not data.get("val") and data.get("validation"):
        data["val"] = data["validation"]  # Ultralytics renames validation: to val: too
    for split in ("train", "val", "test"):
        value = data.get(split)
        if not value:
            if split != "test":
                issues.append(
                    _yaml_issue(
                        yaml_file.name,
                        f"{yaml_file.name} has no '{split}:' entry; add the folder "
                        f"of the {split} images (e.g. '{split}: images/{split}').",
                    )
                )
            continue
        images: list[str] = []
        unsupported: list[str] = []
        for entry in value if isinstance(value, list) else [value]:
            target = _split_target(str(entry), split, isinstance(value, str), base, yaml_file, allowed, issues)
            if target is None:
                continue
            if target.is_dir():
                found, odd = list_images(target)
                images += found
                unsupported += odd
            elif target.suffix == ".txt":
                images += _read_list_file(target, allowed, yaml_file.parent, split, issues)
            else:
                images.append(str(target))
        dataset.splits[split] = images
        dataset.unsupported[split] = unsupported
    return dataset


def _yaml_issue(name: str, message: str, severity: str = "error", code: str = "yaml_error") -> Issue:
    return _issue(code, severity, message, name)


def _read_mapping(yaml_file: Path, allowed: Confinement, issues: list[Issue]) -> dict | None:
    """The data.yaml's mapping, or None with the issue saying why it cannot be used."""
    name = yaml_file.name
    if not allowed.allows_file(str(yaml_file)):  # a link in the dataset's folder to a file elsewhere
        issues.append(_outside(name, name))
        return None
    try:
        data = read_yaml_file(yaml_file, name)
    except PermissionError:
        raise DatasetError(f"no permission to read {yaml_file}; make it readable for this user.") from None
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(_yaml_issue(name, f"{name} cannot be read ({exc}); save it as UTF-8 text."))
        return None
    except UnsafeYaml as exc:
        issues.append(_yaml_issue(name, f"{exc} It was not read."))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        issues.append(
            _yaml_issue(
                name,
                f"{name} is not valid YAML{where}: "
                f"{getattr(exc, 'problem', None) or exc}. Fix it (a data.yaml has keys train, val, names).",
            )
        )
        return None
    if not isinstance(data, dict):
        issues.append(_yaml_issue(name, f"{name} holds no mapping; a data.yaml has keys train, val, test and names."))
        return None
    return data


def _class_names(data: dict, name: str, issues: list[Issue]) -> tuple[dict[int, str], bool]:
    """The classes from names: (written out on one line each), else numbered from nc:, and whether names: gave
    them."""
    names = _names_from(data.get("names"))
    nc = data.get("nc")
    if names is None:
        if isinstance(nc, int) and nc > 0:
            issues.append(
                _yaml_issue(
                    name,
                    f"{name} has no names list; classes are shown as numbers. Add 'names: [...]' with one name "
                    "per class.",
                    "warning",
                )
            )
            return {i: str(i) for i in range(nc)}, False
        missing = f"{name} has neither names nor nc; add 'names: [cat, dog]' listing your classes."
        issues.append(_yaml_issue(name, missing))
        return {}, False
    shown = {k: one_line(v) for k, v in names.items()}
    if odd := [k for k in names if shown[k] != names[k]]:
        written = ", ".join(f"'{shown[k]}'" for k in odd[:3])
        issues.append(
            _yaml_issue(
                name,
                f"the names of classes {', '.join(map(str, odd))} hold line breaks or other control characters; "
                f"they are used written out ({written}). Rename them in {name}.",
                "warning",
            )
        )
    if nc is not None and nc != len(names):
        issues.append(
            _yaml_issue(
                name,
                f"nc: {nc} but {len(names)} names are listed; make nc equal to the number of names ({len(names)}) "
                "or fix the names list.",
                "error",
                "nc_mismatch",
            )
        )
    return shown, True


def _base_folder(data: dict, yaml_file: Path, allowed: Confinement, issues: list[Issue]) -> Path | None:
    """The folder the splits are read from: path: when given, else the data.yaml's folder; None when path: leads
    outside the allowed folders (no split is read from there, nor told to exist or not)."""
    root, name = yaml_file.parent, yaml_file.name
    if not data.get("path"):
        return root
    given = Path(str(data["path"])).expanduser()
    base = Path(os.path.realpath(given if given.is_absolute() else root / given))
    if not allowed.allows(base):
        issues.append(_outside(f"{name}'s path: '{data['path']}'", name))
        return None
    if not given.is_absolute():
        issues.append(
            _yaml_issue(
                name,
                f"path: '{data['path']}' is relative; the studio reads it from the data.yaml folder ({base}). "
                "Ultralytics resolves it from the current folder or its datasets_dir: write an absolute path to make "
                "both agree.",
                "info",
                "path_resolution",
            )
        )
    if not base.exists():
        issues.append(
            _yaml_issue(
                name,
                f"path: '{data['path']}' does not exist ({base}); fix it or remove the key to use the data.yaml "
                "folder.",
                "error",
                "split_missing",
            )
        )
    return base


def _split_target(
    entry: str, split: str, single: bool, base: Path, yaml_file: Path, allowed: Confinement, issues: list[Issue]
) -> Path | None:
    """Where one entry of a split leads, or None with the issue that says why it is not read. A single entry
    starting with ../ that leads nowhere is read one folder lower, as Ultralytics does for Roboflow exports."""
    name = yaml_file.name
    target = Path(os.path.realpath(base / entry))
    inside = allowed.allows(target)  # whether it exists is asked only inside
    if (not inside or not target.exists()) and single and entry.startswith("../"):
        fixed = Path(os.path.realpath(base / entry[3:]))
        if allowed.allows(fixed) and fixed.exists():
            issues.append(
                _issue(
                    "path_resolution",
                    "info",
                    f"{split}: '{entry}' "
                    + ("does not exist from the data.yaml folder" if inside else f"leads {OUTSIDE}")
                    + f"; read as '{entry[3:]}' instead, as Ultralytics does for Roboflow exports.",
                    name,
                    split,
                )
            )
            target, inside = fixed, True
    if not inside:
        issues.append(_outside(f"{name}'s {split}: '{entry}'", name, split))
        return None
    if target.exists():
        return target
    guess = guess_split_folder(yaml_file.parent, split) if single else None
    hint = (
        ""
        if guess is None
        else (
            f" Did you mean '{guess[0]}'? {guess[1]} images found there; python -m mlcore dataset repair makes a "
            "repaired version."
        )
    )
    issues.append(
        _issue(
            "split_missing",
            "warning" if split == "test" else "error",
            f"{split}: '{entry}' does not exist ({target}); fix the path in data.yaml.{hint}",
            name,
            split,
        )
    )
    return None


def _names_from_classes_file(root: Path, allowed: Confinement, issues: list[Issue]) -> dict[int, str] | None:
    for candidate in CLASSES_FILES:
        path = root / candidate
        if not allowed.allows(path):
            if os.path.lexists(root / Path(candidate).parts[0]):  # a link in the dataset: refused, there or not
                issues.append(_outside(candidate, candidate))
            continue
        if path.is_file():
            lines = [x.strip() for x in path.read_text(encoding="utf-8-sig", errors="replace").splitlines()]
            return {i: one_line(n) for i, n in enumerate(x for x in lines if x)}
    return None


def _split_folders(folder: Path, allowed: Confinement) -> tuple[str, dict[str, Path], list[str]]:
    """(layout, {split: its images folder}, the split folders refused because they lead outside the allowed
    folders); a link is judged before anything is asked of where it leads."""
    split_dirs: dict[str, Path] = {}
    refused: list[str] = []
    layout = ""
    images_dir = folder / "images"
    if os.path.lexists(images_dir) and not allowed.allows(images_dir):
        return "images/<split>", {}, ["images"]
    if images_dir.is_dir():
        layout = "images/<split>"
        for child in sorted(images_dir.iterdir()):
            if child.name.lower() not in SPLIT_ALIASES:
                continue
            if not allowed.allows(child):
                refused.append(f"images/{child.name}")
            elif child.is_dir():
                split_dirs[SPLIT_ALIASES[child.name.lower()]] = child
        if not split_dirs and not refused:
            split_dirs["train"] = images_dir
        return layout, split_dirs, refused
    for child in sorted(folder.iterdir()):
        if child.name.lower() not in SPLIT_ALIASES:
            continue
        if not allowed.allows(child / "images"):
            refused.append(f"{child.name}/images")
            layout = "<split>/images"
        elif (child / "images").is_dir():
            split_dirs[SPLIT_ALIASES[child.name.lower()]] = child / "images"
            layout = "<split>/images"
    return layout, split_dirs, refused


def _load_folder(folder: Path, allowed: Confinement) -> Dataset:
    layout, split_dirs, refused = _split_folders(folder, allowed)
    if not split_dirs and not refused and (folder / "obj.data").is_file():
        raise DatasetError(
            f'{folder} is CVAT\'s "YOLO 1.1" export (obj.data, obj.names, train.txt), which Ultralytics cannot '
            f"read as it is: `python -m mlcore dataset repair {folder}` (or the Dataset validation page) makes a "
            "YOLO dataset of it."
        )
    if not split_dirs and not refused:
        raise DatasetError(
            f"{folder} holds no data.yaml, no images/ folder and no <split>/images folders; give the "
            "folder of a YOLO dataset (images/train + labels/train, or train/images + train/labels), "
            "or its data.yaml."
        )
    issues: list[Issue] = [_outside(entry, entry) for entry in refused]
    names = _names_from_classes_file(folder, allowed, issues)
    issues.insert(
        0,
        _issue(
            "yaml_error",
            "info",
            "No data.yaml here: the studio writes one for training. "
            + (
                "Class names come from classes.txt."
                if names
                else "No classes.txt either: classes are shown as numbers."
            ),
        ),
    )
    dataset = Dataset(
        source=folder, root=folder, layout=layout, names=names or {}, names_known=names is not None, issues=issues
    )
    for split, path in split_dirs.items():
        dataset.splits[split], dataset.unsupported[split] = list_images(path)
    if "val" not in dataset.splits:
        issues.append(
            _issue(
                "split_missing",
                "warning",
                "No validation split (images/val or val/images): training "
                "needs one; move about 20% of the images there.",
                None,
                "val",
            )
        )
    return dataset


def _leave_out_outside(dataset: Dataset, allowed: Confinement) -> None:
    """Images that are links to files outside the allowed folders, or whose label file is, left out of their
    split and reported (so that nothing reads them: validation, previews, exports, versions, training)."""
    label_dirs: dict[str, str] = {}  # image folder -> its label folder (label_path, once per folder)
    for split, images in dataset.splits.items():
        kept, refused = [], []
        for image in images:
            folder, _, name = image.rpartition(os.sep)
            if (label_dir := label_dirs.get(folder)) is None:
                label_dir = label_dirs[folder] = os.path.dirname(label_path(image))
            if not allowed.allows_file(image):
                refused.append(dataset.rel(image))
            elif not allowed.allows_file(label := f"{label_dir}{os.sep}{name.rpartition('.')[0]}.txt"):
                refused.append(f"{dataset.rel(label)} (the label file of {dataset.rel(image)}, left out too)")
            else:
                kept.append(image)
        if not refused:
            continue
        dataset.splits[split] = kept
        for entry in refused[:SHOWN_OUTSIDE]:
            dataset.issues.append(_outside(entry, entry.split(" (", 1)[0], split))
        if len(refused) > SHOWN_OUTSIDE:
            more = len(refused) - SHOWN_OUTSIDE
            dataset.issues.append(_outside(f"{more:,} more images or labels of {split}", None, split, plural=True))


def dataset_confinement(path: Path, roots: Sequence[Path] | None = None) -> Confinement:
    """What the dataset at `path` may read: `roots` (default: the settings' dataset roots, which hold the studio's
    own datasets) and the dataset's own folder (a caller may read a dataset it placed itself anywhere)."""
    own = os.path.realpath(path.parent if path.is_file() else path)
    return Confinement((*(load_settings().dataset_roots if roots is None else roots), own))


def load_dataset(path: Path, roots: Sequence[Path] | None = None) -> Dataset:
    """Read the dataset at `path` (an allowed path; links are followed), its contents only under `roots` (see
    `dataset_confinement`; entries leading elsewhere are `outside_roots` errors). Raises DatasetError when
    unreadable."""
    path = Path(os.path.realpath(path))  # its splits are read resolved: so is the root their paths are relative to
    try:
        allowed = dataset_confinement(path, roots)
        if path.is_file():
            if path.suffix.lower() not in (".yaml", ".yml"):
                raise DatasetError(f"{path} is a file, not a dataset; give the dataset folder or its data.yaml.")
            dataset = _load_yaml(path, path, allowed)
        elif not path.is_dir():
            raise DatasetError(f"{path} is neither a folder nor a data.yaml file.")
        else:
            yaml_name = next(
                (n for n in YAML_NAMES if os.path.lexists(path / n) and not _is_allowed_folder(path / n, allowed)), None
            )
            dataset = _load_yaml(path / yaml_name, path, allowed) if yaml_name else _load_folder(path, allowed)
        _leave_out_outside(dataset, allowed)
        return dataset
    except PermissionError as exc:
        raise DatasetError(f"no permission to read {exc.filename or path}; make it readable for this user.") from None


def _is_allowed_folder(path: Path, allowed: Confinement) -> bool:
    return allowed.allows(path) and path.is_dir()  # where a link outside leads is never asked


def outside_entries(dataset: Dataset) -> list[str]:
    """The messages of the dataset's entries that lead outside the allowed folders (left out when it was read)."""
    return [i.message for i in dataset.issues if i.code == "outside_roots"]


def refuse_outside(dataset: Dataset, what: str = "the dataset") -> Dataset:
    """`dataset`, unless an entry of it leads outside the allowed folders: then SubmitError naming the first. For
    what is made of a dataset's files (a version, an export, a preview): leaving some out would be silently wrong."""
    if refused := outside_entries(dataset):
        more = f" ({len(refused) - 1} more such entries)" if len(refused) > 1 else ""
        raise SubmitError(f"{what} cannot be used: {refused[0]}{more}")
    return dataset


def allowed_dataset(settings: Settings, text: str) -> Dataset | None:
    """The dataset at `text` when it lies under the allowed folders and can be read, else None."""
    try:
        return load_dataset(resolve_user_path(text, settings.dataset_roots, base=PROJECT_ROOT), settings.dataset_roots)
    except (PathNotAllowed, DatasetError, OSError):
        return None


def usable_split(
    text: str,
    settings: Settings,
    split: str | None = None,
    *,
    what: str = "the dataset",
    partial: bool = False,
    advice: str = "pick one of those",
    error: type[Exception] = SubmitError,
) -> tuple[Path, Dataset]:
    """The resolved path and the dataset a job is asked to read, with images in `split` when one is named; `error`
    saying why it cannot be used. An entry that leads outside the allowed folders refuses the dataset (SubmitError),
    unless `partial`: a measurement that leaves such files out and lists them (an evaluation)."""
    try:
        path = resolve_user_path(dataset_from(text, settings), settings.dataset_roots, base=PROJECT_ROOT)
        dataset = load_dataset(path, settings.dataset_roots)
    except (PathNotAllowed, DatasetError) as exc:
        raise error(f"{what} cannot be used: {exc}") from None
    if not partial:
        refuse_outside(dataset, what)
    if split is not None and not dataset.splits.get(split):
        raise error(missing_split(dataset, f"'{split}' split", advice))
    return path, dataset


def missing_split(dataset: Dataset, wanted: str, advice: str = "pick one of those") -> str:
    """'the dataset has no {wanted} (it has: train, val); {advice}.': the splits named are those with images."""
    present = ", ".join(s for s, images in dataset.splits.items() if images) or "none"
    return f"the dataset has no {wanted} (it has: {present}); {advice}."


def same_folder(settings: Settings, text: str, options: list[str]) -> str | None:
    """The option naming the dataset folder that `text` names (the folder, or its data.yaml), if it is allowed."""
    try:
        real = resolve_user_path(text, settings.dataset_roots, base=PROJECT_ROOT)
    except PathNotAllowed:
        return None
    folder = real.parent if real.is_file() else real
    return next((o for o in options if Path(o).resolve() == folder), None)


def issue_files(root: Path, path: str, roots: Sequence[Path]) -> tuple[Path | None, Path | None]:
    """(image, label) files that an issue's path names, when they exist: an image brings its label file,
    a label file the image beside its images/ folder. Neither leads outside `roots` (the refused files of an
    `outside_roots` issue are never shown)."""
    allowed = Confinement(roots)
    target = Path(path) if Path(path).is_absolute() else root / path
    if not allowed.allows(target):
        return None, None
    if target.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS:
        label = Path(label_path(target))
        return target, label if allowed.allows(label) else None
    if target.suffix != ".txt":
        return None, None
    halves = str(target).rsplit(f"{os.sep}labels{os.sep}", 1)
    if len(halves) == 2:
        stem = Path(f"{os.sep}images{os.sep}".join(halves)).with_suffix("")
        for ext in sorted(IMAGE_EXTENSIONS):
            for candidate in (stem.with_suffix(f".{ext}"), stem.with_suffix(f".{ext.upper()}")):
                if allowed.allows(candidate) and candidate.exists():
                    return candidate, target
    return None, target
