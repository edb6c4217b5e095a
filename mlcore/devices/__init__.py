"""Devices: the GPU inventory (NVML), the PyTorch probe (in a child process), and `leases`, the
one parser of device strings ("auto", "cpu", "0,1" asked; "cpu", "gpu:0,1" leased).

May import: mlcore.core, mlcore.engine."""
