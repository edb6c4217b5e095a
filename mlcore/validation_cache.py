"""Image facts remembered between validations, keyed on path, size and modification time.

Stored in SQLite under the outputs root (never in the dataset), so a second validation of
unchanged files reads no image at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from mlcore.image_facts import ImageFacts

SCHEMA = """
CREATE TABLE IF NOT EXISTS image_facts (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    data TEXT NOT NULL
)
"""


class FactsCache:
    """A small key-value store: image path -> ImageFacts, valid while size and mtime match."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute(SCHEMA)

    def under(self, root: Path) -> dict[str, tuple[int, int, str]]:
        """Every cached entry below `root`: path -> (size, mtime_ns, json)."""
        prefix = str(root).rstrip("/") + "/"
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, data FROM image_facts WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + "0"),  # '0' sorts right after '/'
        )
        return {p: (s, m, d) for p, s, m, d in rows}

    def store(self, items: Iterable[tuple[str, ImageFacts]]) -> None:
        rows = [
            (path, f.size_bytes, f.mtime_ns, json.dumps(f.to_dict()))
            for path, f in items
            if f.mtime_ns  # facts from a file that could not even be opened are not kept
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO image_facts VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
