"""Image facts remembered between validations, keyed on path, size and modification time.

Stored in SQLite under the outputs root (never in the dataset), so a second validation of
unchanged files reads no image at all; a report is also kept under a fingerprint of all its
inputs, so validating an unchanged dataset again only lists and stats its files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlcore.datasets.images import ImageFacts

# New names when the stored facts or the checks change, so that nothing an older version stored is read: v3 facts
# carry the foreground map, v2 reports find near copies of flat images with it. (Not the dataset fingerprint's
# REPORT_SCHEMA: that names a dataset for evaluations and versions too.)
FACTS_TABLE = "image_facts_v3"
REPORTS_TABLE = "reports_v2"
SCHEMA = f"""
DROP TABLE IF EXISTS image_facts_v2;
DROP TABLE IF EXISTS reports;
CREATE TABLE IF NOT EXISTS {FACTS_TABLE} (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {REPORTS_TABLE} (
    fingerprint TEXT PRIMARY KEY,
    stored REAL NOT NULL,
    data TEXT NOT NULL
);
"""
KEEP_REPORTS = 20


class FactsCache:
    """A small key-value store: image path -> ImageFacts, valid while size and mtime match."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)

    def under(self, root: Path) -> dict[str, tuple[int, int, str]]:
        """Every cached entry below `root`: path -> (size, mtime_ns, json).

        Paths are stored as bytes, so file names that are not valid UTF-8 are cached too."""
        prefix = os.fsencode(root).rstrip(b"/") + b"/"
        rows = self._db.execute(
            f"SELECT path, size, mtime_ns, data FROM {FACTS_TABLE} WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + b"0"),  # '0' sorts right after '/'
        )
        return {os.fsdecode(p): (s, m, d) for p, s, m, d in rows}

    def store(self, items: Iterable[tuple[str, ImageFacts]]) -> None:
        rows = [
            (os.fsencode(path), f.size_bytes, f.mtime_ns, json.dumps(f.to_row()))
            for path, f in items
            if f.mtime_ns  # facts from a file that could not even be opened are not kept
        ]
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO {FACTS_TABLE} VALUES (?, ?, ?, ?)", rows)

    def report(self, fingerprint: str) -> dict[str, Any] | None:
        """The report stored for exactly these inputs, if any."""
        row = self._db.execute(f"SELECT data FROM {REPORTS_TABLE} WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return None if row is None else json.loads(row[0])

    def store_report(self, fingerprint: str, report: dict[str, Any]) -> None:
        """Keep the report for these inputs (and only the most recent few reports)."""
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO {REPORTS_TABLE} VALUES (?, ?, ?)",
                (fingerprint, time.time(), json.dumps(report)),
            )
            self._db.execute(
                f"DELETE FROM {REPORTS_TABLE} WHERE fingerprint NOT IN "
                f"(SELECT fingerprint FROM {REPORTS_TABLE} ORDER BY stored DESC LIMIT ?)",
                (KEEP_REPORTS,),
            )

    def close(self) -> None:
        self._db.close()
