"""A/B comparisons: two models evaluated on the same images (`comparison`), their detections paired
(`pairing`), bootstrap intervals of each metric's difference (`bootstrap`), the verdict (`verdict`), the
images where they disagree (`disagreements`), the report and its storage (`report`, `store`). Started through
mlcore.registry.ab; drawn by mlcore.charts.ab.

May import: every package below it (core … export, predict)."""
