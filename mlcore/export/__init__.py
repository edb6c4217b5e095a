"""Export: a model converted for deployment (ONNX, OpenVINO, TorchScript, TensorRT where a GPU has it),
checked against the source model on its own test data (parity), and timed in each runtime.

May import: every package below it (core … runs, system, charts, evaluation)."""
