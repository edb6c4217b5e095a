"""Job folders listed from disk: every folder under a root that holds a readable YAML request, newest first.

for folder, config, created in config_folders(root, "export_config.yaml"): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


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
