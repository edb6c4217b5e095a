"""This machine: CPU, memory, disk, GPUs, PyTorch and the jobs on it (`status`), and the
troubleshooting hints the status page gives.

May import: mlcore.core, mlcore.engine, mlcore.datasets, mlcore.devices, mlcore.jobs."""
