"""YOLO datasets: loading (`loader`), labels, image facts, the issues found in them, read-only
staged views for trainings, samples for the pages, zip upload, the generated demo dataset, and
`validation/` (every problem of a dataset, as a report). Nothing here writes into a user's dataset.

May import: mlcore.core."""
