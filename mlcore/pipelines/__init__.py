"""Pipelines: train, evaluate, gate, export and register as one declared run, from a file in the repository."""
