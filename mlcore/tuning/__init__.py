"""Hyperparameter studies with Optuna: every trial an ordinary training job of the studio.

May import: every package below it (core … runs, system, charts); each trial is a training job it queues."""
