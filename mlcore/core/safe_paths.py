"""Paths typed by users: resolved (symlinks included) and accepted only under configured roots; models
only from trusted folders (a .pt file is a pickle, which runs code when loaded); and `Confinement`, the same
check for the many files a dataset names."""

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


OUTSIDE = "outside the allowed folders"  # every refusal of a path says it so, whether or not anything is there


class PathNotAllowed(ValueError):
    """The path is unusable or outside the allowed roots; the message says why and what to do."""


def resolve_user_path(
    text: str | os.PathLike[str], roots: Sequence[Path], base: Path | None = None, what: str = "dataset"
) -> Path:
    """The real, existing path for `text`, if it lies under one of `roots` (after resolving links). A path outside
    the roots is refused in the same words whether or not anything is there; one inside may be "does not exist"."""
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
    # The roots first, on the path with its links followed as far as they exist: a path outside gets the same
    # answer whether or not there is anything there, so the refusals tell nobody which files exist.
    if not is_under(os.path.realpath(path), roots):
        raise _outside(raw, roots, what)
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathNotAllowed(f"{raw} is a symbolic link loop; point to the real folder.") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PathNotAllowed(f"no permission to open {raw}; make it readable for this user.") from None
        raise PathNotAllowed(f"{raw} does not exist; check the spelling, or pick one of the known {what}s.") from None
    if not is_under(str(real), roots):  # changed in between
        raise _outside(raw, roots, what)
    return real


def _outside(raw: str, roots: Sequence[Path], what: str) -> PathNotAllowed:
    listed = ", ".join(str(r) for r in roots) or "(none configured)"
    return PathNotAllowed(
        f"{raw} is {OUTSIDE} ({what}s are read only from {listed}); move it under one of them, "
        f"or add its folder to {'ML_STUDIO_MODEL_ROOTS' if what == 'model' else 'ML_STUDIO_DATASET_ROOTS'}."
    )


def model_base(text: str, settings: Settings) -> Path:
    """The folder a relative model path is read from: the outputs folder when it names something there
    (trainings/logos/v1/weights/best.pt, as the README writes it), else the studio's own folder."""
    relative = Path(text.strip())
    inside = not relative.is_absolute() and (settings.outputs_root / relative).exists()
    return settings.outputs_root if inside else PROJECT_ROOT


def is_under(real: str, roots: Sequence[Path | str]) -> bool:
    """Whether the resolved path `real` is one of `roots` (real paths) or lies under one."""
    for root in roots:
        top = os.fspath(root)
        if real == top or real.startswith(top if top.endswith(os.sep) else top + os.sep):
            return True
    return False


class _Every:
    """Every name: the files of a folder that cannot be listed are each followed on their own."""

    def __contains__(self, name: object) -> bool:
        return True


_UNLISTED = _Every()


class Confinement:
    """Which files a dataset names may be read: those whose real path (links followed, existing or not) lies under
    the allowed roots. Made for many files in few folders: each folder is resolved and listed once, and a file is
    followed on its own only when it is a link."""

    def __init__(self, roots: Sequence[Path | str]) -> None:
        self.roots = tuple(os.fspath(r) for r in roots)
        self._links: dict[str, frozenset[str] | _Every | None] = {}  # folder -> its links; None: it leads outside

    def allows(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` (a file or folder, existing or not) leads under the roots, links followed."""
        return is_under(os.path.realpath(path), self.roots)

    def allows_file(self, path: str) -> bool:
        """`allows` for a file, its folder's answer reused for its neighbours."""
        folder, _, name = path.rpartition(os.sep)
        if not folder or not name or name in (".", ".."):
            return self.allows(path)
        if folder not in self._links:
            self._links[folder] = _links_in(folder) if self.allows(folder) else None
        links = self._links[folder]
        if links is None:
            return False
        return name not in links or self.allows(path)


def _links_in(folder: str) -> frozenset[str] | _Every:
    """The names of the symbolic links in `folder` (none when it does not exist); every name when it cannot be
    listed."""
    try:
        with os.scandir(folder) as entries:
            return frozenset(e.name for e in entries if e.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()  # nothing in it to read
    except OSError:
        return _UNLISTED


def trusted_model(path: str, settings: Settings) -> Path:
    """A .pt under the outputs' trainings or registry, or in a configured model folder (a .pt file is code)."""
    roots = (
        settings.outputs_root / paths.TRAININGS_DIR,
        settings.outputs_root / paths.REGISTRY_DIR,
        *settings.model_roots,
    )
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


EXPORT_SUFFIXES = (".onnx", ".torchscript", ".engine")
OPENVINO_SUFFIX = "_openvino_model"


def is_export(path: Path) -> bool:
    return path.suffix in EXPORT_SUFFIXES or (path.is_dir() and path.name.endswith(OPENVINO_SUFFIX))


def resolve_model(text: str, settings: Settings) -> Path:
    """The model file `text` names ('' = the configured default); SubmitError when it may not be loaded."""
    wanted = (text or "").strip() or settings.predict.default_model
    if not wanted:
        raise SubmitError(
            "no model given, and no default model is configured; send model_path (a run's weights/best.pt or an "
            "export) or set ML_STUDIO_DEFAULT_MODEL."
        )
    exports = settings.outputs_root / paths.EXPORTS_DIR
    try:
        candidate = resolve_user_path(wanted, (exports,), base=model_base(wanted, settings), what="model")
    except PathNotAllowed:
        candidate = None
    if candidate is not None and is_export(candidate):
        return candidate
    return trusted_model(wanted, settings)
