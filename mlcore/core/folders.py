"""Job folders: made with a timestamp in their name, their request written beside the outputs, and listed from disk
(every folder under a root that holds a readable YAML request, newest first).

folder = stamped_folder(outputs / "exports", "v1_best")      # exports/v1_best_20261206-142501-123456/
write_request(folder, "export_config.yaml", record)
for folder, config, created in config_folders(root, "export_config.yaml"): ...
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

STAMP = "%Y%m%d-%H%M%S-%f"  # to the microsecond: two jobs submitted in one second get two folders


def stamped_folder(root: Path, stem: str, now: datetime | None = None) -> Path:
    """Make the new folder `root`/{stem}_{timestamp} (and `root`); FileExistsError if it is there already."""
    folder = root / f"{stem}_{(now or datetime.now()).strftime(STAMP)}"
    folder.mkdir(parents=True)
    return folder


def write_request(folder: Path, name: str, record: dict[str, Any]) -> None:
    """The job's request as YAML in its folder, in the order it was given (what the job reads and users see)."""
    (folder / name).write_text(yaml.safe_dump(record, sort_keys=False))


def config_folders(root: Path, config_name: str) -> list[tuple[Path, dict[str, Any], float]]:
    """(folder, its request, when it was written) for each folder of `root` with a readable `config_name`."""
    found = []
    for folder in root.iterdir() if root.is_dir() else []:
        try:
            config = yaml.safe_load((folder / config_name).read_text())
            created = (folder / config_name).stat().st_mtime
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(config, dict):
            found.append((folder, config, created))
    return sorted(found, key=lambda f: f[2], reverse=True)
