"""Training runs on disk: listing and reading run folders (`store`), results.csv, metrics.json,
comparing runs, and measuring a run's weights when its metrics are missing (`measure`).

May import: mlcore.core, mlcore.engine, mlcore.datasets, mlcore.devices, mlcore.jobs, mlcore.training."""
