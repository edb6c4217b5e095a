"""Paths typed by users: resolved (symlinks included) and accepted only under configured roots; models
only from trusted folders (a .pt file is a pickle, which runs code when loaded)."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT, Settings


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest existing parent (e.g. an outputs root not created yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class PathNotAllowed(ValueError):
    """The path is unusable or outside the allowed roots; the message says why and what to do."""


def resolve_user_path(
    text: str | os.PathLike[str], roots: Sequence[Path], base: Path | None = None, what: str = "dataset"
) -> Path:
    """The real, existing path for `text`, if it lies under one of `roots` (after resolving links)."""
    raw = os.fspath(text).strip()
    if not raw:
        raise PathNotAllowed(f"no {what} path given; type a folder or a data.yaml file.")
    if "\x00" in raw:
        raise PathNotAllowed(f"the {what} path contains a NUL byte; type it again without control characters.")
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # "~someone" of no such user
        raise PathNotAllowed(f"{raw}: there is no such user's home folder; type the full path.") from None
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathNotAllowed(f"{raw} is a symbolic link loop; point to the real folder.") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PathNotAllowed(f"no permission to open {raw}; make it readable for this user.") from None
        raise PathNotAllowed(f"{raw} does not exist; check the spelling, or pick one of the known {what}s.") from None
    for root in roots:
        if real.is_relative_to(root):
            return real
    listed = ", ".join(str(r) for r in roots) or "(none configured)"
    raise PathNotAllowed(
        f"{raw} is outside the folders {what}s may be read from ({listed}); move it under one of them, "
        f"or add its folder to {'ML_STUDIO_MODEL_ROOTS' if what == 'model' else 'ML_STUDIO_DATASET_ROOTS'}."
    )


def model_base(text: str, settings: Settings) -> Path:
    """The folder a relative model path is read from: the outputs folder when it names something there
    (trainings/logos/v1/weights/best.pt, as the README writes it), else the studio's own folder."""
    relative = Path(text.strip())
    inside = not relative.is_absolute() and (settings.outputs_root / relative).exists()
    return settings.outputs_root if inside else PROJECT_ROOT


def trusted_model(path: str, settings: Settings) -> Path:
    """A .pt under the outputs' trainings or registry, or in a configured model folder (a .pt file is code)."""
    roots = (settings.outputs_root / paths.TRAININGS_DIR, settings.outputs_root / paths.REGISTRY_DIR,
             *settings.model_roots)  # fmt: skip
    try:
        model = resolve_user_path(path, roots, base=model_base(path, settings), what="model")
    except PathNotAllowed as exc:
        raise SubmitError(
            f"{exc} A .pt file is a pickle, which runs code when loaded: models load only from "
            "runs under the outputs folder or from ML_STUDIO_MODEL_ROOTS."
        ) from None
    if model.suffix != ".pt" or not model.is_file():
        raise SubmitError(f"{path} is not a .pt weights file; pick a run's weights/best.pt.")
    return model
