"""Hyperparameter studies with Optuna: every trial an ordinary training job of the studio."""
