"""Ultralytics and torch, always imported lazily: the offline engine environment and the studio's CPU-thread
policy (`env`), loading a detection model (`models`), checkpoint inspection (in a child process), and
Ultralytics results as plain data.

Every other module reaches them through here, except the few that drive Ultralytics or torch themselves, all in
worker, predictor or child processes (tests/test_architecture.py holds the list and each one's reason): the
worker and the training (a model built from its architecture's yaml, a checkpoint's epochs raised, the
augmentation sampler and the batch timer), the GPU probe, and OpenVINO's precision hint in Ultralytics' backend.

May import: mlcore.core."""
