"""Training: the spec (`TrainSpec`), `start` for the four modes (full, transfer, resume,
extend) with every check before a job is queued, and the worker's training task.

May import: mlcore.core, mlcore.engine, mlcore.datasets, mlcore.devices, mlcore.jobs."""
