"""Model evaluation: the spec, submitting it, the worker's evaluation task, evaluations on disk,
the detection analysis (matching, error types, per-image TP/FP/FN), galleries and prediction files.

May import: every package below it (core … runs, system, charts)."""
